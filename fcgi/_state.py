"""Which FastCGI record may arrive when: the one per-request state table and its rules.

Rules (FastCGI 1.0 specification, plus what was measured on real front-ends: trioserve's
docs/deployment.md, section 7):

* Records with request id 0 are management records and never reach this table:
  GET_VALUES is answered, any other type is answered with UNKNOWN_TYPE (see
  :mod:`fcgi._management`). Everything else is keyed by request id, and each request id
  follows the table below.
* Before the table is consulted, record types only an application sends (and GET_VALUES on a
  request id) are refused in every state, and BEGIN_REQUEST must carry exactly 8 bytes,
  ABORT_REQUEST none. A (state, record) pair missing from the table is a
  :class:`~fcgi.ProtocolError`, after which the connection is dead (every later
  ``next_event()`` re-raises it).
* PARAMS records are concatenated and decoded once, on the empty PARAMS record; the byte
  limit is checked as each record arrives, the count limit while decoding. STDIN records are
  handed out as they arrive and the body ends with the empty STDIN record only; CONTENT_LENGTH
  is not looked at anywhere in :mod:`fcgi`.
* The application may end a request at any time (``end_request``); if the front-end was
  still sending input for it, the request becomes DRAINING and its remaining input is
  dropped silently until the empty STDIN record (or a new BEGIN_REQUEST reusing the id).
  Requests we reject at BEGIN_REQUEST start DRAINING right away.
* A request id is *inactive* from our END_REQUEST (or before its BEGIN_REQUEST) until its next
  BEGIN_REQUEST, and the input-stream records a front-end sends for a request (PARAMS,
  STDIN, DATA, ABORT_REQUEST) are ignored on an inactive id, as FastCGI 1.0 §3.3 says ("while
  a request ID R is inactive, the application ignores records with requestId == R, except
  for FCGI_BEGIN_REQUEST") and flup does: a stray record after a finished KEEP_CONN request
  (a late ABORT_REQUEST racing our END_REQUEST, the empty DATA record flup's client ends an
  unused stream with, a front-end's leftover STDIN) costs nothing, not the connection and the
  requests behind it. A record type no front-end sends, or a malformed one, stays an error
  on any id (the rules above are checked first).

Per-request transitions (``-`` = no request with that id; "empty" = zero content length)::

    state       record                 -> action        next state
    ---------   --------------------   -------------   ----------------------------------
    -           BEGIN_REQUEST          -> BEGIN         PARAMS (or DRAINING if rejected)
    DRAINING    BEGIN_REQUEST          -> BEGIN         PARAMS (or DRAINING if rejected)
    -           PARAMS/STDIN/DATA/ABORT (any) -> IGNORE -   (an inactive id, §3.3)
    PARAMS      PARAMS                 -> ACCUMULATE    PARAMS
    PARAMS      PARAMS (empty)         -> PARAMS_DONE   STDIN          emits Params
    STDIN       STDIN                  -> STDIN         STDIN          emits StdinData
    STDIN       STDIN (empty)          -> STDIN_END     INPUT_DONE     emits StdinEnd
    STDIN       DATA                   -> DATA          STDIN          emits Data
    STDIN       DATA (empty)           -> DATA_END      STDIN          emits DataEnd
    INPUT_DONE  DATA                   -> DATA          INPUT_DONE     emits Data
    INPUT_DONE  DATA (empty)           -> DATA_END      INPUT_DONE     emits DataEnd
    PARAMS      ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    STDIN       ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    INPUT_DONE  ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    ABORTED     PARAMS/STDIN/DATA/ABORT (any) -> IGNORE ABORTED
    DRAINING    PARAMS/DATA/ABORT (any) -> IGNORE       DRAINING
    DRAINING    STDIN                  -> IGNORE        DRAINING
    DRAINING    STDIN (empty)          -> FORGET        -

    application calls ``end_request(id)``: INPUT_DONE -> -, ABORTED after the empty STDIN
    -> -, any other live state -> DRAINING.

This module only says *which* action a record triggers; what each action does (emitting an
event, queueing a rejection, counting params bytes) is :class:`~fcgi.ServerConnection`'s job.
"""

from __future__ import annotations

import enum

from fcgi._errors import ProtocolError
from fcgi._records import RecordType

__all__ = ["TRANSITIONS", "Action", "RequestState", "transition"]


class RequestState(enum.Enum):
    PARAMS = "PARAMS"
    STDIN = "STDIN"
    INPUT_DONE = "INPUT_DONE"
    ABORTED = "ABORTED"
    DRAINING = "DRAINING"


class Action(enum.Enum):
    BEGIN = "BEGIN"
    IGNORE = "IGNORE"
    ACCUMULATE = "ACCUMULATE"
    PARAMS_DONE = "PARAMS_DONE"
    STDIN = "STDIN"
    STDIN_END = "STDIN_END"
    DATA = "DATA"
    DATA_END = "DATA_END"
    ABORT = "ABORT"
    FORGET = "FORGET"


#: record types only an application sends; receiving one means the peer is confused
_APP_TO_SERVER_TYPES = frozenset(
    {
        RecordType.END_REQUEST,
        RecordType.STDOUT,
        RecordType.STDERR,
        RecordType.GET_VALUES_RESULT,
        RecordType.UNKNOWN_TYPE,
    }
)
_FIXED_LENGTHS: dict[int, int] = {RecordType.BEGIN_REQUEST: 8, RecordType.ABORT_REQUEST: 0}

_T = RecordType
_S = RequestState
_A = Action
_ANY = (False, True)
#: (state or None, record type, empty content) -> (action, next state or None)
TRANSITIONS: dict[tuple[RequestState | None, int, bool], tuple[Action, RequestState | None]] = {
    (None, _T.BEGIN_REQUEST, False): (_A.BEGIN, _S.PARAMS),
    (_S.DRAINING, _T.BEGIN_REQUEST, False): (_A.BEGIN, _S.PARAMS),
    **{
        (None, t, e): (_A.IGNORE, None)
        for t in (_T.PARAMS, _T.STDIN, _T.DATA, _T.ABORT_REQUEST)
        for e in _ANY
    },
    (_S.PARAMS, _T.PARAMS, False): (_A.ACCUMULATE, _S.PARAMS),
    (_S.PARAMS, _T.PARAMS, True): (_A.PARAMS_DONE, _S.STDIN),
    (_S.STDIN, _T.STDIN, False): (_A.STDIN, _S.STDIN),
    (_S.STDIN, _T.STDIN, True): (_A.STDIN_END, _S.INPUT_DONE),
    (_S.STDIN, _T.DATA, False): (_A.DATA, _S.STDIN),
    (_S.STDIN, _T.DATA, True): (_A.DATA_END, _S.STDIN),
    (_S.INPUT_DONE, _T.DATA, False): (_A.DATA, _S.INPUT_DONE),
    (_S.INPUT_DONE, _T.DATA, True): (_A.DATA_END, _S.INPUT_DONE),
    (_S.PARAMS, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    (_S.STDIN, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    (_S.INPUT_DONE, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    **{
        (_S.ABORTED, t, e): (_A.IGNORE, _S.ABORTED)
        for t in (_T.PARAMS, _T.STDIN, _T.DATA, _T.ABORT_REQUEST)
        for e in _ANY
    },
    **{
        (_S.DRAINING, t, e): (_A.IGNORE, _S.DRAINING)
        for t in (_T.PARAMS, _T.DATA, _T.ABORT_REQUEST)
        for e in _ANY
    },
    (_S.DRAINING, _T.STDIN, False): (_A.IGNORE, _S.DRAINING),
    (_S.DRAINING, _T.STDIN, True): (_A.FORGET, None),
}


def transition(
    state: RequestState | None, rtype: int, rid: int, content: bytes
) -> tuple[Action, RequestState | None]:
    """The (action, next state) for a record on request ``rid`` (not 0) in ``state``.

    ``state`` is None when no request with that id exists. Raises :class:`ProtocolError` for
    a record that is not allowed there.
    """
    found = TRANSITIONS.get((state, rtype, not content))
    if found is not None:  # the common case first: a legal record, one dict lookup
        expected = _FIXED_LENGTHS.get(rtype)
        if expected is None or len(content) == expected:
            return found
    # not in the table (or a fixed-length type of the wrong size): say why, in rule order
    if rtype in _APP_TO_SERVER_TYPES or rtype == RecordType.GET_VALUES:
        raise ProtocolError(f"record type {rtype} is not sent to an application")
    expected = _FIXED_LENGTHS.get(rtype)
    if expected is not None and len(content) != expected:
        raise ProtocolError(
            f"record type {rtype} must carry {expected} bytes, got {len(content)}",
            request_id=rid,
        )
    where = "an unknown request id" if state is None else f"state {state.name}"
    raise ProtocolError(
        f"record type {_type_name(rtype)} (content {len(content)} bytes) "
        f"for request {rid} in {where}",
        request_id=rid,
    )


def _type_name(rtype: int) -> str:
    try:
        return RecordType(rtype).name
    except ValueError:
        return str(rtype)
