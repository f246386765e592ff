"""``@trioserve.commands.blocking`` after a plain ``import trioserve``, as the docs write it.

The quickstart, requests and security pages tell users to write exactly that; it raised
AttributeError because nothing had imported the submodule. The package now imports a
submodule on first attribute access, lazily, so ``import trioserve`` alone still pulls in no
I/O (tests/test_layers.py keeps the sans-IO cores importable without Trio).

Each check runs in a fresh interpreter: in this one the test suite has imported everything.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import json, sys, threading, time, urllib.request

    import trioserve

    assert "trio" not in sys.modules, "import trioserve pulled in trio"


    class Job:
        name = "job"

        @trioserve.commands.blocking
        def crunch(self, n: int) -> int:
            # off the event loop: a worker thread, not the server's
            return n * 2 if threading.current_thread().name != "trioserve" else -1


    decorated = trioserve.commands.is_blocking(Job.crunch)
    no_trio_yet = "trio" not in sys.modules
    server = trioserve.start_in_thread("http:127.0.0.1:0", sync="server", readonly=False)
    try:
        server.register("/", Job(), name="job")
        host, port = server.addresses[0][:2]
        url = f"http://{host}:{port}/job/exe.json?method=crunch&n=21"
        with urllib.request.urlopen(url, timeout=10) as reply:
            result = json.loads(reply.read())
    finally:
        server.stop()
    print(json.dumps({"decorated": decorated, "no_trio_yet": no_trio_yet, "result": result}))
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_documented_decorator_after_a_plain_import() -> None:
    done = _run(PROGRAM)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        '{"decorated": true, "no_trio_yet": true, "result": 42}'
    )


def test_submodules_are_attributes_and_unknown_names_still_fail() -> None:
    code = textwrap.dedent(
        """
        import sys
        import trioserve

        assert trioserve.policy.ANONYMOUS == "anonymous"
        assert trioserve.cors.decide("*", None, None).allow_origin == "*"
        assert "trio" not in sys.modules  # sans-IO submodules stay sans-IO
        assert trioserve.files.Locations is not None
        for missing in ("nothing_here", "_version_x", "engines_"):
            try:
                getattr(trioserve, missing)
            except AttributeError as exc:
                assert missing in str(exc)
            else:
                raise AssertionError(missing)
        print("ok")
        """
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
