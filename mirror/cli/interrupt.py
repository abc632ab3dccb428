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

    return anyio.run(_main)
