"""The ``debug`` echo page redacts secrets in query strings as it redacts secret headers.

``?password=hunter2&api_token=abc`` used to be shown verbatim: in the request's Query row, and
behind a front-end in the ``QUERY_STRING`` and ``REQUEST_URI`` params and in any URL-valued
header (``Referer``). A parameter whose name is a secret's (the header rule: PASSWORD, SECRET,
TOKEN...) now shows ``(hidden)``; every other parameter stays readable.
"""

from __future__ import annotations

import httpx
import trio

import fcgi
from trioserve import Server

SECRETS = ("hunter2", "abc-991", "s3cr3t-val", "passw0rd-x")
QUERY = "password=hunter2&api_token=abc-991&plain=visible-1&Client%5FSecret=s3cr3t-val"
REFERER = "http://app.example/page?x=visible-2&db_passwd=passw0rd-x"


def _check(page: str) -> None:
    for secret in SECRETS:
        assert secret not in page, secret
    assert "visible-1" in page and "visible-2" in page
    assert "password=(hidden)" in page and "api_token=(hidden)" in page


async def test_http_debug_page_hides_query_secrets(nursery: trio.Nursery) -> None:
    server = Server()
    await nursery.start(server.serve, "http:127.0.0.1:0?debug")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        reply = await client.get(f"/Objects/x/root.json?{QUERY}", headers={"referer": REFERER})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    _check(reply.text)


async def _fastcgi_get(address: tuple[str, int], params: dict[str, str]) -> bytes:
    data = (
        fcgi.encode_begin_request(1)
        + fcgi.encode_stream(fcgi.RecordType.PARAMS, 1, fcgi.encode_params(params), end=True)
        + fcgi.encode_stream(fcgi.RecordType.STDIN, 1, b"", end=True)
    )
    out = bytearray()
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(*address)
        async with stream:
            await stream.send_all(data)
            reader = fcgi.RecordReader()
            done = False
            while not done:
                chunk = await stream.receive_some(65536)
                assert chunk, "closed before END_REQUEST"
                reader.feed(chunk)
                while (record := reader.next_record()) is not None:
                    if record.type == fcgi.RecordType.STDOUT:
                        out += record.content
                    elif record.type == fcgi.RecordType.END_REQUEST:
                        done = True
    return bytes(out)


async def test_fastcgi_debug_page_hides_query_secrets(nursery: trio.Nursery) -> None:
    server = Server()
    await nursery.start(server.serve, "fastcgi:127.0.0.1:0?debug")
    address = server.addresses[0][:2]
    reply = await _fastcgi_get(
        address,
        {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "/app",
            "PATH_INFO": "/Objects/x/root.json",
            "QUERY_STRING": QUERY,
            "REQUEST_URI": f"/app/Objects/x/root.json?{QUERY}",
            "HTTP_REFERER": REFERER,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        },
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"text/html" in head
    _check(body.decode())
