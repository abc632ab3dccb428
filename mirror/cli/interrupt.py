"""Stop a long command cleanly on Ctrl-C (SIGINT) or a container's stop (SIGTERM).

asyncio turns the first Ctrl-C into one cancellation of the main task. That is edge-triggered:
code that catches it (a retry loop, a timeout racing it, a library's cleanup) carries on, and
the run outlives the signal, while a SIGTERM (what Azure Container Apps and Docker send to
stop a job) kills the process outright. Here either signal cancels a scope around the whole
command instead, which is level-triggered: every await after it is cancelled too, ``finally``
blocks run, and the command ends as ``Interrupted`` (exit 128 + the signal's number).

A cancellation cannot stop a thread: a worker still in a blocking call (or code that never
reaches a checkpoint) would keep a stopped process alive, with the loop waiting for it. So the
first signal also starts a countdown: unless the command has ended ``GRACE`` seconds later,
the process prints the same line and exits 128 + the signal's number anyway. What that skips
is only cleanup: writes are published whole or not at all, a local lease is the kernel's to
release, and an Azure lease expires by itself.

Outside that scope (starting up, reading the allow-list, printing the report, the other
commands) ``stop_on_sigterm`` makes SIGTERM raise ``Interrupted`` where the main thread is, as
Python makes Ctrl-C raise ``KeyboardInterrupt``: the same line and status, not a silent kill.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus

__all__ = ["GRACE", "Interrupted", "run_until_signalled", "stop_on_sigterm"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Seconds a stopped command has to clean up (release its lease) before it exits anyway:
# under the 10 s Docker waits before its SIGKILL (Azure Container Apps waits 30 s).
GRACE = 8.0


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal; ``main`` prints it and exits 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def message(self) -> str:
        """The one line on stderr: Ctrl-C needs no explanation, another signal is named."""
        return "blobpi: interrupted" + (f" ({self})" if self.signum != signal.SIGINT else "")


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block SIGTERM raises ``Interrupted`` in the main thread (around ``main``)."""
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _exit_anyway(signum: int) -> None:
    """The end of the countdown: the command outlived its stop by ``GRACE`` seconds."""
    print(Interrupted(signum).message, file=sys.stderr, flush=True)
    os._exit(128 + signum)  # not sys.exit: the threads that hold the process are not waited for


def run_until_signalled(job: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(job)``, cancelled as a whole by SIGINT or SIGTERM (then ``Interrupted``)."""
    received: list[int] = []
    countdown: list[threading.Timer] = []

    async def _watch(scope: CancelScope, *, task_status: TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(*_SIGNALS) as signals:
            task_status.started()
            async for signum in signals:
                if received:  # a second Ctrl-C or SIGTERM: the stop is already under way
                    continue
                received.append(signum)
                scope.cancel()
                countdown.append(threading.Timer(GRACE, _exit_anyway, (signum,)))
                countdown[0].daemon = True  # the countdown itself keeps nothing alive
                countdown[0].start()

    async def _main() -> T:
        done: list[T] = []
        failed: list[Exception] = []
        async with anyio.create_task_group() as tasks:
            job_scope = CancelScope()
            await tasks.start(_watch, job_scope)
            with job_scope:
                try:
                    done.append(await job())
                except Exception as e:  # raised below, as itself, not in an ExceptionGroup
                    failed.append(e)
            tasks.cancel_scope.cancel()  # the job is over: stop watching
        if received:  # whatever the job raised on its way out was caused by the stop
            raise Interrupted(received[0])
        if failed:
            raise failed[0]
        return done[0]

    # asyncio resets a signal it handled to the default action (for SIGTERM: a silent kill)
    before = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    try:
        return anyio.run(_main)
    finally:  # ended in time (the caller exits, or a test goes on)
        for timer in countdown:
            timer.cancel()
        if threading.current_thread() is threading.main_thread():
            for signum, handler in before.items():
                signal.signal(signum, handler)
