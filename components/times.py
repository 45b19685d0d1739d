"""Times as the viewer reads them: stored datetimes are UTC (SQLite hands them back naive); pages show them
in the browser's time zone (st.context.timezone), or in UTC when the browser did not say."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

FORMAT = "%Y-%m-%d %H:%M %Z"


def zone(name: object) -> ZoneInfo:
    """The named IANA zone; UTC for None, a stand-in or a name this machine does not know."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def format_in(moment: datetime | None, zone_name: object, fmt: str = FORMAT) -> str:
    """`moment` (UTC, naive or aware) as a wall-clock time in `zone_name`; "—" for no time."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(zone_name)).strftime(fmt)


def viewer_zone_name() -> str | None:
    name = st.context.timezone
    return name if isinstance(name, str) and name else None


def when(moment: datetime | None, fmt: str = FORMAT) -> str:
    """`moment` in the viewer's time zone, e.g. "2026-01-15 20:05 CST"."""
    return format_in(moment, viewer_zone_name(), fmt)


def local(moment: datetime | None) -> datetime | None:
    """`moment` as an aware datetime in the viewer's zone (for tables that sort by time)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(viewer_zone_name()))
