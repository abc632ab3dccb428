"""Stopping a command by signal (mirror/cli/interrupt.py): level-triggered, whole, and
transparent to the command's own result and errors."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

from blobpi.mirror.cli.interrupt import Interrupted, run_until_signalled
from blobpi.mirror.core.errors import MirrorError


def test_run_until_signalled__returns_the_result_and_raises_the_error_as_itself() -> None:
    async def result() -> int:
        return 42

    async def failure() -> int:
        raise MirrorError("cannot read the allow-list")

    assert run_until_signalled(result) == 42
    with pytest.raises(MirrorError, match="allow-list"):
        run_until_signalled(failure)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_until_signalled__a_job_that_swallows_one_cancellation_still_stops(
    signum: int,
) -> None:
    """Code that catches the first cancellation and carries on (a retry loop) cannot keep
    the command alive: every later await is cancelled too."""
    attempts: list[int] = []

    async def stubborn() -> None:
        os.kill(os.getpid(), signum)
        for attempt in range(5):
            attempts.append(attempt)
            try:
                await anyio.sleep(5)
            except anyio.get_cancelled_exc_class():
                if attempt == 0:
                    continue  # the retry loop that swallowed asyncio's one-shot cancel
                raise

    with pytest.raises(Interrupted) as stopped:
        run_until_signalled(stubborn)
    assert stopped.value.signum == signum
    assert attempts == [0, 1]
