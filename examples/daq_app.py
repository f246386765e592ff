"""A program with its own data-acquisition loop, served by ``trioserve serve``.

Run from the repository's folder (the current directory is on the import path)::

    trioserve serve examples.daq_app:build             # the loop is a Trio task
    trioserve serve examples.daq_app:build_threaded    # the loop runs in a thread of its own

then open http://127.0.0.1:8080/ or fetch
``http://127.0.0.1:8080/Objects/daq/readout/root.json``: ``events`` grows ten times a second.

Both factories follow ``nursery.start``'s protocol: they register their objects, call
``task_status.started()`` (the engines start only then, so the first request sees every
object), and run the loop until Ctrl-C or SIGTERM cancels them. The threaded one is for
acquisition code that blocks (a driver's read call): the thread reads, and hands each block
to the server's Trio thread to be recorded, so a request never sees a half-filled histogram.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import trio

import trioserve
from trioserve.histograms import Hist1D

#: seconds between two blocks of the fake detector
PERIOD = 0.1


@dataclass
class Readout:
    """The DAQ's counters: reach ``/Objects/daq/readout/events/root.json``."""

    events: int = 0
    blocks: int = 0
    last_energy: float = 0.0


class Daq:
    """A fake detector: blocks of exponentially distributed energies."""

    def __init__(self, seed: int | None = None) -> None:
        self.energy = Hist1D("energy", "deposited energy;E [MeV];hits", 100, 0.0, 10.0)
        self.readout = Readout()
        self.rng = np.random.default_rng(seed)

    def register(self, server: trioserve.Server) -> None:
        server.register("daq", self.energy)
        server.register("daq", self.readout, name="readout", title="the DAQ's counters")
        server.set_item_field("/", "_monitoring", "1000")
        server.set_item_field("/", "_drawitem", "[Objects/daq/energy]")

    def read_block(self, size: int = 100) -> np.ndarray:
        """One block from the detector (random numbers here; a driver call in real life)."""
        return self.rng.exponential(2.0, size=size)

    def record(self, block: np.ndarray) -> None:
        self.energy.fill_many(block)
        self.readout.events += int(block.size)
        self.readout.blocks += 1
        self.readout.last_energy = float(block[-1])


async def build(
    server: trioserve.Server, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """The DAQ loop as a Trio task next to the server."""
    daq = Daq()
    daq.register(server)
    task_status.started()
    while True:
        daq.record(daq.read_block())
        await trio.sleep(PERIOD)


async def build_threaded(
    server: trioserve.Server, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """The DAQ loop in a thread of its own, for acquisition code that blocks."""
    daq = Daq()
    daq.register(server)
    stop = threading.Event()

    def acquire() -> None:
        while not stop.wait(PERIOD):  # a blocking read would stand here
            block = daq.read_block()
            try:
                trio.from_thread.run_sync(daq.record, block)  # recorded in the server's thread
            except trio.RunFinishedError:  # the program is gone
                return

    task_status.started()
    try:
        # abandoned on cancel: the thread sees ``stop`` and ends on its own
        await trio.to_thread.run_sync(acquire, abandon_on_cancel=True)
    finally:
        stop.set()
