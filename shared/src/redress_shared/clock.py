"""Injected time, so that deadline logic is tested without sleeping."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Source of the current time; every use case takes one instead of calling ``now()``."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._now += delta


class OffsetFileClock:
    """The wall clock moved by an offset read from a file: for end-to-end tests only.

    Tests that run the services as real processes cannot hand them a :class:`FixedClock`;
    instead every process reads the same file, which holds an offset in seconds (e.g.
    ``86400.5``), and answers ``now() = wall clock + offset``. The file is re-read only when
    its modification time, inode or size changes (one ``stat`` per call), so a test moves
    time for the whole stack by rewriting it with :func:`write_clock_offset`. A missing file
    means no offset; an unreadable one keeps the last offset read.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[int, int, int] | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def offset(self) -> timedelta:
        """The offset currently in the file."""
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._seen, self._offset = None, timedelta(0)
            return self._offset
        seen = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if seen != self._seen:
            try:
                self._offset = timedelta(seconds=float(self._path.read_text().strip() or 0))
                self._seen = seen
            except (OSError, ValueError):
                pass  # half-written or garbled: keep the last good offset, retry next call
        return self._offset


def write_clock_offset(path: Path, offset: timedelta) -> None:
    """Set the offset an :class:`OffsetFileClock` on ``path`` reads (atomically, so no
    reader sees a half-written number)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{offset.total_seconds()}\n")
    os.replace(partial, path)


def clock_from_settings(test_clock_file: Path | None) -> Clock:
    """The clock a service runs on: the system clock, or the test clock when the tests-only
    ``REDRESS_TEST_CLOCK_FILE`` setting names a file."""
    return OffsetFileClock(test_clock_file) if test_clock_file else SystemClock()
