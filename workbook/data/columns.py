"""The data contract's column names and allowed values, shared by ingest and analysis.

`load_ratings` returns one row per rating event (one rater's view of one session), sorted by
client_id, session_date, rater, with a fresh RangeIndex and these columns, always present:

- client_id, therapist_id, rater, attendance: str (never missing)
- supervisor_id, site, note: str or None
- session_date: datetime64[ns], midnight
- session_number: int64, >= 1 (derived from date order per client when absent in the file)
- the five sign keys (workbook.data.signs.SIGN_KEYS): float64, NaN when blank
- every measure key (built-in ones, then the config's extra ones): float64, NaN when blank
- srs: the Session Rating Scale total (0-40, an alliance measure, not an outcome): float64

`df.attrs["source"]` holds the file path (or the database URL, password hidden) the frame came
from; `df.attrs["instruments"]` the instruments of an export mapped onto the signs (see
workbook.data.sources), `df.attrs["given"]` the contract columns the source had.
"""

from __future__ import annotations

from workbook.data.measures import BUILTIN_MEASURES
from workbook.data.signs import SIGN_KEYS

REQUIRED = ("client_id", "therapist_id", "session_date")
ID_COLUMNS = ("client_id", "therapist_id", "supervisor_id", "site")
RATERS = ("client", "therapist", "supervisor", "observer")
ATTENDANCE = ("attended", "cancelled", "no_show")
KEY = ("client_id", "session_date", "rater")

OPTIONAL = ("rater", "attendance", "supervisor_id", "site", "session_number", "note")
BUILTIN_MEASURE_KEYS = tuple(BUILTIN_MEASURES)

# Alliance instrument totals: (min, max, label). Not outcome measures (no reliable change).
ALLIANCE_TOTALS = {"srs": (0.0, 40.0, "SRS")}

# Column order of the typed frame, before extra measures (the alliance totals and the note
# follow them).
BASE_ORDER = (
    "client_id",
    "therapist_id",
    "supervisor_id",
    "site",
    "session_date",
    "session_number",
    "rater",
    "attendance",
    *SIGN_KEYS,
    *BUILTIN_MEASURE_KEYS,
    "note",
)
