"""Stopping a command by signal (mirror/cli/interrupt.py): level-triggered, whole, and
transparent to the command's own result and errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import anyio
import pytest

from blobpi.mirror.cli.interrupt import GRACE, Interrupted, run_until_signalled
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


_BLOCKED = """
import threading
import anyio.to_thread
from blobpi.mirror.cli.interrupt import run_until_signalled

async def job() -> None:
    print("started", flush=True)
    await anyio.to_thread.run_sync(threading.Event().wait)  # a call no cancellation ends

run_until_signalled(job)
"""


def test_run_until_signalled__a_thread_that_never_returns_cannot_keep_the_process() -> None:
    """A worker thread the stop cannot reach: after ``GRACE`` seconds the process exits with
    the stop's status and line anyway (the loop would wait for the thread forever)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _BLOCKED], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "started\n"
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=GRACE + 60)  # generous: GRACE, or never
    finally:
        child.kill()
        child.communicate()
    assert (child.returncode, stderr) == (128 + signal.SIGTERM, "blobpi: interrupted (SIGTERM)\n")
