"""``trioserve token``: mint (or revoke) an access token from the command line.

A server started with the same secret file (``Server.set_token_secret(F)``) accepts what this
prints, on every process reading that file: tokens are stateless, so minting needs the secret
and nothing of the running server. ``--revoke TOKEN`` appends the token's id to
``F.revoked``, which servers sharing ``F`` read at start and re-read when it changes.

Prints the token alone on stdout (so ``TOKEN=$(trioserve token ...)`` works); a failure is
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trioserve.auth.secret_file import SecretFileError
from trioserve.auth.tokens import MAX_LIFETIME, TokenAuthority

__all__ = ["main"]


def _fail(message: str) -> int:
    print(f"trioserve token: {message}", file=sys.stderr)
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trioserve token",
        description="Print an access token that acts as USER within the given paths until "
        "it expires; servers using the same --secret-file accept it.",
    )
    parser.add_argument(
        "--secret-file",
        required=True,
        metavar="FILE",
        help="the server's token secret (Server.set_token_secret); created if missing",
    )
    parser.add_argument("--user", metavar="USER", help="the user the token acts as")
    parser.add_argument(
        "--lifetime",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help=f"seconds until it expires (default 3600, at most {MAX_LIFETIME})",
    )
    parser.add_argument(
        "--path",
        action="append",
        metavar="PATH",
        help="a subtree the token is limited to, e.g. /Objects/hists (repeatable; "
        "default: the whole tree)",
    )
    parser.add_argument(
        "--revoke", metavar="TOKEN", help="revoke TOKEN instead of minting one (prints nothing)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trioserve token``; returns the exit status (0, or 2 with one line on stderr)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.revoke is None and not args.user:
        return _fail("--user is required to mint a token")
    authority = TokenAuthority()
    try:
        authority.use_secret_file(args.secret_file)
        if args.revoke is not None:
            authority.revoke(args.revoke)
            return 0
        token = authority.mint(args.user, lifetime=args.lifetime, paths=args.path)
    except (SecretFileError, ValueError) as exc:
        return _fail(str(exc))
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
