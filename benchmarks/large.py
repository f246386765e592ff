"""Large replies: a 10^6-float numpy array as root.json (P6) and the hierarchy of 10,000
items as h.json (P7).

    python3 benchmarks/large.py [--runs 3] [--only P6,P7]

P6: ``GET /Objects/big/array/root.json?compact=23`` (benchmarks/_servers.py ``big``, server
on the server core): MB/s of JSON and the time to the first byte, against the same array
through ``orjson.dumps(a, option=OPT_SERIALIZE_NUMPY)`` and stdlib ``json.dumps(a.tolist())``
in one process on the same core (this file with ``--reference``). Meanwhile a second client
asks for a small root.json every 10 ms: the longest it waited shows whether the large render
stalls everything else.
P7: ``GET /h.json`` of a tree of 10,000 items (``_servers.py many``): size and ms.
Each figure is the median of ``--runs`` requests (at least 3 for P7).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

import _harness as h
import trio
from _client import Client

BIG = "/Objects/big/array/root.json?compact=23"
SMALL = "/Objects/obj/root.json"


def reference(runs: int) -> None:
    """Runs in its own process on the server core: what serialising the array costs."""
    import orjson
    from _servers import big_array

    array = big_array()
    found: dict[str, tuple[float, int]] = {}
    for name, encode in (
        ("orjson", lambda: orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)),
        ("json", lambda: json.dumps(array.tolist()).encode()),
    ):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            size = len(encode())
            times.append(time.perf_counter() - start)
        found[name] = (statistics.median(times), size)
    print(json.dumps(found), flush=True)


async def big_request(port: int) -> tuple[float, float, int, float]:
    """(total s, first byte s, bytes, longest small-request wait s) of one large GET.

    The large reply is fetched by curl (a C client: the Python client's own reading would
    set the rate of a 19 MB transfer), the small probes by the Python client meanwhile.
    """
    probe = Client(port)
    await probe.get(SMALL)  # connected before the big request starts
    longest = 0.0
    done = trio.Event()

    async def probing() -> None:
        nonlocal longest
        while not done.is_set():
            reply = await probe.get(SMALL)
            longest = max(longest, reply.total)
            await trio.sleep(0.01)

    curl = [
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_starttransfer} "
        "%{time_total} %{size_download}", f"http://127.0.0.1:{port}{BIG}",
    ]  # fmt: skip
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(probing)
            done_curl = await trio.run_process(curl, capture_stdout=True)
            done.set()
    await probe.aclose()
    status, first, total, size = done_curl.stdout.decode().split()
    if status != "200":
        raise RuntimeError(f"{BIG} answered {status}")
    return float(total), float(first), int(size), longest


def p6(args: argparse.Namespace) -> None:
    port = h.free_port()
    argv = [h.PYTHON, str(h.HERE / "_servers.py"), "big", str(port)]
    with h.running([h.start("big", argv, port=port, ready_line=True, cwd=h.HERE)]) as ps:
        trio.run(big_request, port)  # warm-up
        runs = [trio.run(big_request, port) for _ in range(args.runs)]
        command = ps[0].command
    total = statistics.median(r[0] for r in runs)
    first = statistics.median(r[1] for r in runs)
    size = runs[0][2]
    stall = statistics.median(r[3] for r in runs)
    ref_argv = h.pinned([h.PYTHON, __file__, "--reference", str(args.runs)], h.SERVER_CORE)
    done = subprocess.run(ref_argv, capture_output=True, text=True, timeout=600, cwd=h.HERE)
    if done.returncode != 0:
        raise RuntimeError(f"the reference failed:\n{done.stderr}")
    ref = json.loads(done.stdout)
    rates = {"trioserve": size / total / 1e6}
    print("## P6: root.json?compact=23 of a 10^6-float numpy array")
    print("| what | MB/s | seconds | first byte s | MB | trioserve ÷ this |")
    print("|---|---|---|---|---|---|")
    print(f"| trioserve over HTTP | {rates['trioserve']:,.1f} | {total:.3f} | {first:.3f} "
          f"| {size / 1e6:.1f} | — |")  # fmt: skip
    for name, label in (
        ("orjson", "orjson.dumps(a, OPT_SERIALIZE_NUMPY), in-process"),
        ("json", "json.dumps(a.tolist()), in-process"),
    ):
        seconds, ref_size = ref[name]
        rate = ref_size / seconds / 1e6
        print(
            f"| {label} | {rate:,.1f} | {seconds:.3f} | — | {ref_size / 1e6:.1f} "
            f"| {rates['trioserve'] / rate:.2f} |"
        )
    print(
        f"\nlongest wait of a small root.json (asked every 10 ms) during the large reply: "
        f"{stall * 1e3:,.0f} ms (median of {args.runs})"
    )
    print("goal: trioserve ÷ orjson ≥ 0.5; other requests answered meanwhile")
    print(f"\ncommands:\n  trioserve: {command}")
    print(f"    load: {h.HERE_LOAD}: curl GET {BIG} (+ GET {SMALL} every 10 ms)")
    print(f"  reference: {' '.join(ref_argv)}\n")


def p7(args: argparse.Namespace) -> None:
    port = h.free_port()
    argv = [h.PYTHON, str(h.HERE / "_servers.py"), "many", str(port)]
    with h.running([h.start("many", argv, port=port, ready_line=True, cwd=h.HERE)]) as ps:

        async def fetch() -> list[tuple[float, float, int]]:
            client = Client(port)
            await client.get("/h.json")  # warm-up
            found = []
            for _ in range(max(3, args.runs)):
                with trio.fail_after(120):
                    reply = await client.get("/h.json")
                if reply.status != 200:
                    raise RuntimeError(f"/h.json answered {reply.status}")
                found.append((reply.total, reply.first_byte, reply.size))
            await client.aclose()
            return found

        replies = trio.run(fetch)
        command = ps[0].command
    totals = [r[0] for r in replies]
    print("## P7: /h.json of 10,000 registered items")
    print("| what | MB | median ms | first byte ms | min ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(
        f"| trioserve | {replies[0][2] / 1e6:.2f} | {statistics.median(totals) * 1e3:,.1f} "
        f"| {statistics.median(r[1] for r in replies) * 1e3:,.1f} | {min(totals) * 1e3:,.1f} "
        f"| {max(totals) * 1e3:,.1f} |"
    )
    print("\ngoal: ≤ 50 ms")
    print(f"\ncommands:\n  trioserve: {command}")
    print(f"    load: {h.HERE_LOAD}: GET /h.json, one at a time\n")


def main() -> int:
    parser = h.arguments(__doc__, timed=False)
    parser.add_argument("--only", default="P6,P7", help="which parts (P6, P7)")
    parser.add_argument("--reference", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        reference(args.reference)
        return 0
    h.begin(
        "large replies: a 10^6-float array and a 10,000-item hierarchy",
        args,
        f"median of {args.runs} request(s) after one warm-up (at least 3 for P7)",
    )
    parts = {p.strip().upper() for p in args.only.split(",")}
    if "P6" in parts:
        p6(args)
    if "P7" in parts:
        p7(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
