"""`workbook import FILE --into URL`: append a checked file to a clinic's store, in one transaction.

The file is read and checked like any input (instrument exports mapped onto the signs). Then, in
one transaction: the table is made if it is new; each record (client, date, rater) already stored
the same is skipped; a record stored differently, or a session whose therapist or attendance the
store holds differently, is a conflict: the import is refused with both versions listed and
nothing is written. A session number the file did not give is stored empty (the reader derives
it from the dates of the whole store). Each import is logged in `<table>_imports`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from workbook.data import columns as C
from workbook.data.config import Config
from workbook.data.errors import (
    ConflictError,
    DiskFullError,
    InputFileError,
    OutputError,
    WorkbookError,
)
from workbook.data.ingest import load_ratings
from workbook.data.sources.database import is_driver_error, open_engine
from workbook.data.sources.mapping import describe_mapping
from workbook.data.sources.urls import Location, parse_location, sqlite_path

CHUNK = 500  # client IDs per look-up query
SESSION_FIELDS = ("therapist_id", "attendance")


@dataclass
class ImportResult:
    """What an import did."""

    label: str
    added: int = 0
    unchanged: int = 0
    created: bool = False
    columns_added: list[str] = field(default_factory=list)

    def summary(self, source: str) -> str:
        made = " (a new table)" if self.created else ""
        return (f"{source}: {self.added:,} new record(s) written to {self.label}{made}; "
                f"{self.unchanged:,} already there and unchanged")


def store_columns(config: Config) -> list[str]:
    """The store's record columns, in order (its `id` primary key comes first)."""
    return [*C.BASE_ORDER[:-1], *config.measures, *C.ALLIANCE_TOTALS, "note"]


def ratings_table(metadata, name: str, schema: str | None, config: Config):
    """The store's table: an integer id, the record columns, one row per client, date, rater."""
    from sqlalchemy import Column, Date, Double, Integer, String, Table, Text, UniqueConstraint

    types = {"session_date": Date(), "session_number": Integer(), "note": Text()}
    cols = [Column("id", Integer, primary_key=True, autoincrement=True)]
    for name_ in store_columns(config):
        kind = types.get(name_) or (String(64) if name_ in (*C.ID_COLUMNS, "rater", "attendance")
                                    else Double())
        cols.append(Column(name_, kind, nullable=name_ not in (*C.REQUIRED, "rater",
                                                               "attendance")))
    return Table(name, metadata, *cols, UniqueConstraint(*C.KEY, name=f"{name}_record"),
                 schema=schema)


def import_ratings(source: str | Path, into: str, config: Config | None = None) -> ImportResult:
    """Check `source` and append its records to the store at `into`, all or nothing."""
    config = config or Config()
    ratings = load_ratings(source, config)
    location = parse_location(into, table_required=True)
    records = _records(ratings)
    new_file = _new_sqlite_file(location)
    engine = open_engine(location, create=True)
    try:
        with engine.begin() as conn:
            result, table = _prepare(conn, location, config)
            stored = _stored(conn, table, records["client_id"].unique())
            new, unchanged = _compare(records, stored, source, location)
            _insert(conn, table, new, location)
            _log(conn, location, table, source, ratings, config, len(new), unchanged)
    except BaseException as exc:  # a driver's error mid-transaction: rolled back, nothing written
        engine.dispose()
        if new_file is not None:  # a store this import made is removed again
            _remove(new_file, new_file.with_name(new_file.name + "-journal"))
        if not is_driver_error(exc):
            raise
        raise store_error(exc, location) from None
    finally:
        engine.dispose()
    result.added, result.unchanged = len(new), unchanged
    return result


def _new_sqlite_file(location: Location) -> Path | None:
    """The SQLite file this import will make, if it does not exist yet."""
    path = sqlite_path(location) if location.dialect == "sqlite" else None
    return path if path is not None and not path.exists() else None


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            if path.exists():
                path.unlink()
        except OSError:
            pass


def store_error(exc: BaseException, location: Location) -> WorkbookError:
    """The package's error for a driver's error while writing the store: no space left
    (DiskFullError, exit 10), a store that cannot be written (OutputError, exit 11), or any
    other (InputFileError, exit 5); in each the import was rolled back."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    state = str(getattr(orig, "sqlstate", "") or "")
    done = f"the import was rolled back, nothing was written ({reason})"
    if name == "SQLITE_FULL" or state in ("53100", "53400"):  # disk full; quota
        return DiskFullError(f"{location.label}: no space left for the store; {done}. Free "
                             "some space and import again")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or \
            state in ("25006", "42501"):  # a read-only transaction; no privilege
        return OutputError(f"{location.label}: the store cannot be written; {done}")
    return InputFileError(f"{location.label}: {done}")


def _records(ratings: pd.DataFrame) -> pd.DataFrame:
    """The typed rows as stored: dates as days, blanks as None, derived session numbers empty."""
    out = ratings.copy()
    out["session_date"] = out["session_date"].dt.date
    numbers = out["session_number"].astype(object)
    if "session_number" not in ratings.attrs.get("given", ("session_number",)):
        numbers[:] = None
    out["session_number"] = numbers
    return out


def _prepare(conn, location: Location, config: Config):
    """The table (made when new, missing optional columns added) and the ImportResult."""
    from sqlalchemy import Column, Double, MetaData, inspect, text

    schema, _, name = location.table.rpartition(".")
    schema = schema or None
    result = ImportResult(location.label)
    metadata = MetaData()
    table = ratings_table(metadata, name, schema, config)
    inspector = inspect(conn)
    if not inspector.has_table(name, schema=schema):
        table.create(conn)
        result.created = True
        return result, table
    have = {c["name"] for c in inspector.get_columns(name, schema=schema)}
    lacking = [c for c in (*C.REQUIRED, "rater", "attendance", "id") if c not in have]
    if lacking:
        raise InputFileError(f"{location.label}: table {location.table!r} is not a ratings "
                             f"store (no column {', '.join(lacking)}); name another ?table=")
    for column in [c for c in store_columns(config) if c not in have]:
        conn.execute(text(f"ALTER TABLE {_qualified(conn, table)} ADD COLUMN "
                          f"{_quote(conn, column)} "
                          f"{Column(column, Double()).type.compile(conn.dialect)}"))
        result.columns_added.append(column)
    if location.dialect == "postgresql":
        conn.execute(text(f"LOCK TABLE {_qualified(conn, table)} IN SHARE ROW EXCLUSIVE MODE"))
    return result, table


def _quote(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _qualified(conn, table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def _stored(conn, table, clients: np.ndarray) -> pd.DataFrame:
    """The stored records of these clients."""
    from sqlalchemy import select

    frames = []
    for start in range(0, len(clients), CHUNK):
        chunk = [str(c) for c in clients[start:start + CHUNK]]
        rows = conn.execute(select(table).where(table.c.client_id.in_(chunk))).all()
        if rows:
            frames.append(pd.DataFrame(rows, columns=list(rows[0]._fields)))
    if not frames:
        return pd.DataFrame(columns=["id", *C.KEY, *SESSION_FIELDS])
    return pd.concat(frames, ignore_index=True)


def _compare(records: pd.DataFrame, stored: pd.DataFrame, source, location: Location):
    """The records not yet stored and how many are stored the same; ConflictError when a
    record or a session is stored differently."""
    fields = [c for c in records.columns if c in stored.columns or not len(stored)]
    key = list(C.KEY)
    merged = records.merge(stored, on=key, how="left", suffixes=("", "@store"),
                           indicator=True)
    found = (merged["_merge"] == "both").to_numpy()
    conflicts = []
    for i in np.flatnonzero(found):
        row = merged.iloc[i]
        differ = [(f, row[f], row[f + "@store"]) for f in fields
                  if f not in key and f + "@store" in merged and not _same(row[f],
                                                                            row[f + "@store"])]
        if differ:
            conflicts.append(_describe(row, differ, source, location))
    new = records[~found]
    conflicts += _session_conflicts(new, stored, source, location)
    if conflicts:
        raise ConflictError(location.label, conflicts)
    return new, int(found.sum())


def _same(a: object, b: object) -> bool:
    blank_a = a is None or (isinstance(a, float) and math.isnan(a))
    blank_b = b is None or (isinstance(b, float) and math.isnan(b))
    if blank_a or blank_b:
        return blank_a and blank_b
    if isinstance(a, date | datetime) or isinstance(b, date | datetime):
        return str(a)[:10] == str(b)[:10]
    if isinstance(a, int | float | np.number) and isinstance(b, int | float | np.number):
        return float(a) == float(b)
    return str(a) == str(b)


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "blank"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)[:40]


def _describe(row, differ: list[tuple], source, location: Location) -> str:
    key = f"{row['client_id']}, {str(row['session_date'])[:10]}, {row['rater']}"
    here = "; ".join(f"{f} {_show(a)}" for f, a, _ in differ)
    there = "; ".join(f"{f} {_show(b)}" for f, _, b in differ)
    stored_id = row.get("id")
    where = f"row id {int(stored_id)}" if stored_id == stored_id and stored_id is not None else ""
    return (f"record ({key}): in {Path(str(source)).name}: {here}; in the store"
            f"{' (' + where + ')' if where else ''}: {there}")


def _session_conflicts(new: pd.DataFrame, stored: pd.DataFrame, source,
                       location: Location) -> list[str]:
    """A new rating of a stored session must agree with it on therapist and attendance."""
    if not len(new) or not len(stored):
        return []
    sessions = stored.drop_duplicates(["client_id", "session_date"])
    sessions = sessions.assign(session_date=pd.to_datetime(sessions["session_date"]).dt.date)
    merged = new.merge(sessions[["client_id", "session_date", "id", *SESSION_FIELDS]],
                       on=["client_id", "session_date"], suffixes=("", "@store"))
    out = []
    for row in merged.to_dict("records"):
        differ = [(f, row[f], row[f + "@store"]) for f in SESSION_FIELDS
                  if not _same(row[f], row[f + "@store"])]
        if differ:
            out.append(_describe(pd.Series(row), differ, source, location)
                       + " (one therapist and one attendance per session, whoever rates it)")
    return out


def _insert(conn, table, new: pd.DataFrame, location: Location) -> None:
    """Write the new records: COPY on PostgreSQL, executemany on SQLite."""
    if not len(new):
        return
    names = [c.name for c in table.columns if c.name != "id" and c.name in new.columns]
    rows = [tuple(_cell(v) for v in row) for row in new[names].itertuples(index=False)]
    raw = conn.connection.dbapi_connection
    cursor = raw.cursor()
    columns = ", ".join(_quote(conn, n) for n in names)
    if location.dialect == "postgresql":
        with cursor.copy(f"COPY {_qualified(conn, table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(names))
        cursor.executemany(f"INSERT INTO {_qualified(conn, table)} ({columns}) VALUES ({marks})",
                           [tuple(str(v) if isinstance(v, date) else v for v in r) for r in rows])


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _log(conn, location: Location, table, source, ratings: pd.DataFrame, config: Config,
         added: int, unchanged: int) -> None:
    """One row per import in `<table>_imports`: when, from what, how many, which mapping."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

    log = Table(f"{table.name}_imports", MetaData(),
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("imported_at", DateTime), Column("source", Text),
                Column("sha256", String(64)), Column("added", Integer),
                Column("unchanged", Integer), Column("instruments", Text),
                schema=table.schema)
    log.create(conn, checkfirst=True)
    present = tuple(ratings.attrs.get("instruments", ()))
    mapping = "; ".join(describe_mapping(config.instruments, present, config.scale.min,
                                         config.scale.max)) if present else None
    conn.execute(log.insert().values(
        imported_at=datetime.now(UTC).replace(tzinfo=None),
        source=Path(str(source)).name, sha256=_sha256(source), added=added,
        unchanged=unchanged, instruments=mapping))


def _sha256(source) -> str | None:
    path = Path(str(source))
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
