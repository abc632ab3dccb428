"""Stop a long command cleanly on Ctrl-C (SIGINT) or a container's stop (SIGTERM).

asyncio turns the first Ctrl-C into one cancellation of the main task. That is edge-triggered:
code that catches it (a retry loop, a timeout racing it, a library's cleanup) carries on, and
the run outlives the signal, while a SIGTERM (what Azure Container Apps and Docker send to
stop a job) kills the process outright. Here either signal cancels a scope around the whole
command instead, which is level-triggered: every await after it is cancelled too, ``finally``
blocks run, and the command ends as ``Interrupted`` (exit 128 + the signal's number).
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus

__all__ = ["Interrupted", "run_until_signalled"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal; ``main`` prints it and exits 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_until_signalled(job: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(job)``, cancelled as a whole by SIGINT or SIGTERM (then ``Interrupted``)."""
    received: list[int] = []

    async def _watch(scope: CancelScope, *, task_status: TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(*_SIGNALS) as signals:
            task_status.started()
            async for signum in signals:
                received.append(signum)
                scope.cancel()
                return

    async def _main() -> T:
        done: list[T] = []
        async with anyio.create_task_group() as tasks:
            await tasks.start(_watch, tasks.cancel_scope)
            done.append(await job())
            tasks.cancel_scope.cancel()  # the job is done: stop watching
        if received:
            raise Interrupted(received[0])
        return done[0]

    return anyio.run(_main)
