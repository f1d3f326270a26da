"""Reporting periods: a month, a date range, the previous period of the same length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from workbook.data.errors import ParameterError


@dataclass(frozen=True)
class Period:
    """An inclusive range of session dates."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def is_month(self) -> bool:
        """True when the period is exactly one calendar month."""
        month_end = self.start + pd.offsets.MonthEnd(0)
        return self.start.day == 1 and self.end == month_end

    @property
    def label(self) -> str:
        """'October 2026' for a calendar month, else '2026-09-01 to 2026-10-31'."""
        if self.is_month:
            return self.start.strftime("%B %Y")
        return f"{self.start.date()} to {self.end.date()}"

    @property
    def slug(self) -> str:
        """A folder name: '2026-10' for a month, else '2026-10-05_2026-10-30'."""
        if self.is_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m-%d}_{self.end:%Y-%m-%d}"

    def previous(self) -> Period:
        """The period of the same length just before this one (the previous month for a month)."""
        if self.is_month:
            start = self.start - pd.offsets.MonthBegin(1)
            return Period(start, self.start - pd.Timedelta(days=1))
        length = self.end - self.start
        end = self.start - pd.Timedelta(days=1)
        return Period(end - length, end)


def parse_month(text: str) -> Period:
    """'2026-10' -> October 2026; anything else is a ParameterError."""
    try:
        start = pd.Timestamp(date.fromisoformat(f"{str(text).strip()}-01"))
    except ValueError:
        raise ParameterError(f"month {text!r}: expected YYYY-MM, e.g. 2026-10") from None
    return Period(start, start + pd.offsets.MonthEnd(0))


def parse_period(start: object, end: object) -> Period:
    """A period from two ISO dates (strings or dates); end is inclusive."""
    try:
        first, last = pd.Timestamp(date.fromisoformat(str(start)[:10])), pd.Timestamp(
            date.fromisoformat(str(end)[:10]))
    except ValueError:
        raise ParameterError(f"period {start!r} to {end!r}: expected dates YYYY-MM-DD") from None
    if last < first:
        raise ParameterError(f"period {start} to {end}: the end is before the start")
    return Period(first, last)


def latest_complete_month(ratings: pd.DataFrame, today: date | None = None) -> Period:
    """The latest month with sessions in the data that ended before today."""
    this_month = pd.Timestamp(today or date.today()).replace(day=1)
    dates = ratings["session_date"]
    dates = dates[dates < this_month]
    if dates.empty:
        raise ParameterError("no complete month in the data: every session is in this month")
    last = dates.max()
    return parse_month(f"{last.year:04d}-{last.month:02d}")
