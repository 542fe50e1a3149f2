"""The tests-only offset clock that end-to-end tests use to move time across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redress_shared.clock import (
    OffsetFileClock,
    SystemClock,
    clock_from_settings,
    write_clock_offset,
)
from redress_shared.settings import ServiceSettings


def test_offset_file_clock_follows_the_offset_written_to_its_file(tmp_path):
    path = tmp_path / "clock"
    clock = OffsetFileClock(path)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5), "no file: no offset"

    write_clock_offset(path, timedelta(days=2))
    assert clock.now() - datetime.now(UTC) > timedelta(days=2) - timedelta(seconds=5)

    write_clock_offset(path, timedelta(days=3, hours=1))
    assert clock.offset() == timedelta(days=3, hours=1)


def test_a_garbled_file_keeps_the_last_good_offset(tmp_path):
    path = tmp_path / "clock"
    write_clock_offset(path, timedelta(hours=5))
    clock = OffsetFileClock(path)
    assert clock.offset() == timedelta(hours=5)
    path.write_text("not a number, not yet")
    assert clock.offset() == timedelta(hours=5)


def test_services_use_the_offset_clock_only_when_the_setting_names_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv("REDRESS_TEST_CLOCK_FILE", raising=False)
    assert isinstance(clock_from_settings(ServiceSettings().test_clock_file), SystemClock)
    monkeypatch.setenv("REDRESS_TEST_CLOCK_FILE", str(tmp_path / "clock"))
    clock = clock_from_settings(ServiceSettings().test_clock_file)
    assert isinstance(clock, OffsetFileClock)
