"""When signed read URLs (SAS) expire: a window bucketed so that every signing in one bucket
gives the same expiry, hence byte-identical URLs (Azure ML environments built from them do
not change on every run; the server's download redirects can be cached per bucket)."""

from __future__ import annotations

import datetime as dt

__all__ = ["MAX_LIFETIME", "bucket_of", "bucketed_window"]

MAX_LIFETIME = dt.timedelta(days=7)  # the longest a user delegation key may live
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def bucket_of(lifetime: dt.timedelta) -> dt.timedelta:
    """An eighth of the lifetime, 1 minute to 1 day.

    >>> bucket_of(dt.timedelta(minutes=16))
    datetime.timedelta(seconds=120)
    """
    return min(max(lifetime / 8, dt.timedelta(minutes=1)), dt.timedelta(days=1))


def bucketed_window(now: dt.datetime, lifetime: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """(start, expiry) with start = ``now`` rounded down to a bucket (``bucket_of``): every
    call in one bucket gets the same window, and a URL stays valid for between 7/8 of
    ``lifetime`` and all of it (longer than a minute's bucket, at least).

    >>> now = dt.datetime(2026, 1, 1, 10, 7, tzinfo=dt.UTC)
    >>> [t.isoformat() for t in bucketed_window(now, dt.timedelta(hours=8))]
    ['2026-01-01T10:00:00+00:00', '2026-01-01T18:00:00+00:00']
    """
    bucket = bucket_of(lifetime)
    start = _EPOCH + ((now - _EPOCH) // bucket) * bucket
    return start, start + lifetime
