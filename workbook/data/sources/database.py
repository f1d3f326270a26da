"""Read a ratings table or query from a database (SQLAlchemy URL) into the same checks as a file.

SQLite is the embedded default store, PostgreSQL the server one. Reading is read-only (SQLite's
query_only, PostgreSQL's READ ONLY transaction). PostgreSQL streams the rows with COPY as CSV
into the same pyarrow parser as a file. A SQLite file is read as Arrow columns through ADBC (its
own read-only connection), and through the sqlite3 driver, row by row, when the Arrow columns
would not carry exactly what is stored (SQLite lets a column mix types): both give the same
cells (tests/test_sources_db.py checks one against the other). A problem names
the table (or query) and the row: its integer primary key when the table has one ("row id 17")
or its place in the result, and its record key (client, date, rater).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from workbook.data.config import Config
from workbook.data.errors import DataError, InputFileError, Problem
from workbook.data.ingest import RawTable, check_table, map_columns
from workbook.data.sources.bridge import bridge_instruments
from workbook.data.sources.urls import Location, parse_location, sqlite_path

KEY_COLUMNS = ("client_id", "session_date", "rater")
PG_TIMESTAMPS = (1114, 1184)  # timestamp, timestamptz: read as their calendar day


def load_database(text: str, config: Config) -> pd.DataFrame:
    """The typed ratings of a database table or query, validated exactly like a file."""
    location = parse_location(text)
    engine = open_engine(location)
    try:
        with engine.connect() as conn:
            table = read_rows(conn, location)
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        raise InputFileError(f"{location.label}: cannot be read ({_reason(exc)})") from None
    finally:
        engine.dispose()
    return check_rows_of(table, location, config)


def open_engine(location: Location, *, create: bool = False):
    """An engine for the location; a missing SQLite file is refused unless `create`."""
    from sqlalchemy import create_engine, event

    path = sqlite_path(location) if location.dialect == "sqlite" else None
    if location.dialect == "sqlite":
        if path is not None and not path.is_file() and not create:
            raise InputFileError(f"{location.label}: database file {path} not found")
        if path is not None and create and not path.parent.is_dir():
            raise InputFileError(f"{location.label}: folder {path.parent} does not exist")
        engine = create_engine(location.url)

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, record) -> None:
            dbapi_connection.isolation_level = None  # we say BEGIN ourselves (below)

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if create else "BEGIN")
        return engine
    return create_engine(location.url, connect_args={"connect_timeout": 10})


def is_driver_error(exc: BaseException) -> bool:
    """An error of SQLAlchemy or of a database driver (not a bug of ours)."""
    from sqlalchemy.exc import SQLAlchemyError

    module = type(exc).__module__ or ""
    return isinstance(exc, SQLAlchemyError) or module.startswith(("sqlite3", "psycopg"))


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_rows(conn, location: Location) -> RawTable:
    """Every row of the table or query as text cells; each row located by id or position."""
    _read_only(conn, location)
    columns, id_column, casts = _columns(conn, location)
    names = ([id_column] if id_column else []) + [c for c in columns if c != id_column]
    source = _source_sql(conn, location)
    select = ", ".join(_select_item(conn, n, n in casts) for n in names)
    sql = f"SELECT {select} FROM {source}"
    if location.dialect == "postgresql":
        frame = _copy_csv(conn, sql, names, id_column)
    else:
        frame = _fetch(conn, sql, names, id_column, sqlite_path(location))
    if id_column:
        ids = frame.pop(id_column)
        if isinstance(ids.dtype, pd.CategoricalDtype):
            ids = ids.cat.categories.to_numpy(dtype=np.int64)[ids.cat.codes.to_numpy()]
        return RawTable(frame, np.asarray(ids, dtype=np.int64), "row id")
    return RawTable(frame, np.arange(1, len(frame) + 1), "result row")


def _read_only(conn, location: Location) -> None:
    if location.dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
    else:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql("SET LOCAL DateStyle TO 'ISO, YMD'")


def _source_sql(conn, location: Location) -> str:
    if location.query:
        return f"({location.query.rstrip().rstrip(';')}) AS q"
    return ".".join(_quote(conn, part) for part in location.table.split("."))


def _quote(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _select_item(conn, name: str, cast: bool) -> str:
    quoted = _quote(conn, name)
    return f"CAST({quoted} AS date) AS {quoted}" if cast else quoted


def _columns(conn, location: Location) -> tuple[list[str], str | None, set[str]]:
    """Column names, the single integer primary key (or None), columns to read as dates."""
    from sqlalchemy import inspect
    from sqlalchemy.types import DateTime, Integer

    if location.query:
        result = conn.exec_driver_sql(f"SELECT * FROM {_source_sql(conn, location)} LIMIT 0")
        description = result.cursor.description
        result.close()
        casts = {d[0] for d in description if d[1] in PG_TIMESTAMPS}
        return [d[0] for d in description], None, casts
    schema, _, name = location.table.rpartition(".")
    inspector = inspect(conn)
    if not inspector.has_table(name, schema=schema or None):
        tables = sorted(inspector.get_table_names(schema=schema or None))
        known = f"; its tables: {', '.join(tables)}" if tables else "; it has no table"
        raise InputFileError(f"{location.label}: no table {location.table!r}{known}")
    info = inspector.get_columns(name, schema=schema or None)
    pk = inspector.get_pk_constraint(name, schema=schema or None)["constrained_columns"]
    types = {c["name"]: c["type"] for c in info}
    id_column = pk[0] if len(pk) == 1 and isinstance(types[pk[0]], Integer) else None
    casts = {n for n, t in types.items() if isinstance(t, DateTime)}
    if location.dialect == "sqlite":
        casts = set()  # SQLite keeps what was written; a timestamp text is checked as written
    return [c["name"] for c in info], id_column, casts


def _copy_csv(conn, sql: str, names: list[str], id_column: str | None) -> pd.DataFrame:
    """PostgreSQL: the rows as CSV through COPY, parsed like a CSV file (every cell text but
    the integer id)."""
    cursor = conn.connection.dbapi_connection.cursor()
    chunks = []
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    data = b"".join(chunks)
    if not data:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    fields = [f"c{i}" for i in range(len(names))]
    text = pa.dictionary(pa.int32(), pa.string())
    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=fields, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={f: pa.int64() if n == id_column else text
                          for f, n in zip(fields, names, strict=True)},
            null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False))
    return table.unify_dictionaries().to_pandas().set_axis(names, axis=1)


def _fetch(conn, sql: str, names: list[str], id_column: str | None,
           path: Path | None) -> pd.DataFrame:
    """SQLite: the rows, each column dictionary-encoded (the integer id as integers); Arrow
    columns when they hold exactly the stored values, the driver's rows otherwise."""
    table = _fetch_arrow(path, sql) if path is not None else None
    if table is not None and _arrow_is_exact(conn, sql, names, table):
        return pd.DataFrame({n: table.column(i).to_numpy().astype(np.int64) if n == id_column
                             else _arrow_categorical(table.column(i))
                             for i, n in enumerate(names)})
    cursor = conn.connection.dbapi_connection.cursor()
    rows = cursor.execute(sql).fetchall()
    if not rows:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    cells = np.array(rows, dtype=object)
    del rows
    return pd.DataFrame({n: cells[:, i].astype(np.int64) if n == id_column
                         else _categorical(cells[:, i]) for i, n in enumerate(names)})


def _fetch_arrow(path: Path, sql: str) -> pa.Table | None:
    """The result as Arrow columns, read through ADBC on a read-only connection; None when the
    driver refuses a column that mixes types, when it is empty, or on any error (the sqlite3
    path then reads the same rows, or raises the error the user should see)."""
    import adbc_driver_sqlite.dbapi as adbc

    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            table = cursor.fetch_arrow_table()
    except (adbc.Error, OSError, ValueError, pa.ArrowException):
        return None
    return table if table.num_rows else None


def _arrow_is_exact(conn, sql: str, names: list[str], table: pa.Table) -> bool:
    """Whether the Arrow columns hold exactly what is stored. The ADBC driver types a column
    from its first rows; past them it writes a stored real into a text column as text of its
    own ('1.500000e+00') and an integer into a double column as a float (inexact beyond
    2**53); a blob column comes as binary."""
    suspects = []
    for name, column in zip(names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_floating(kind):
            top = pc.max(pc.abs(column)).as_py()
            if top is not None and top >= 2**53:
                return False
        elif pa.types.is_string(kind):
            if any(_looks_real(v) for v in pc.unique(column).to_pylist()):
                suspects.append(name)
        elif not (pa.types.is_integer(kind) or pa.types.is_null(kind)):
            return False
    return not suspects or not _stores_real(conn, sql, suspects)


def _looks_real(text: str | None) -> bool:
    """Text the driver could have made of a stored real (a number that is not an integer)."""
    if text is None:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return not text.strip().lstrip("+-").isdigit()


def _stores_real(conn, sql: str, names: list[str]) -> bool:
    """Whether any of these result columns holds a stored real (one scan, in SQLite)."""
    test = " OR ".join(f"typeof({_sqlite_name(n)}) = 'real'" for n in names)
    cursor = conn.connection.dbapi_connection.cursor()
    return cursor.execute(f"SELECT 1 FROM ({sql}) WHERE {test} LIMIT 1").fetchone() is not None


def _sqlite_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """An Arrow column as categories of its values' text, like `_categorical` (null stays
    missing)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    text = pd.Index([_cell_text(v) for v in encoded.dictionary.to_pylist()], dtype=object)
    canon, cats = pd.factorize(text)
    canon = np.append(canon, -1)
    return pd.Categorical.from_codes(canon[codes], categories=cats)


def _categorical(values: np.ndarray) -> pd.Categorical:
    """A column of driver values as categories of their text (None stays missing)."""
    codes, uniq = pd.factorize(values)
    text = pd.Index([_cell_text(v) for v in uniq], dtype=object)
    canon, cats = pd.factorize(text)  # 7 and 7.0 may both be there
    canon = np.append(canon, -1)  # a missing value (code -1) stays missing
    return pd.Categorical.from_codes(canon[codes], categories=cats)


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def check_rows_of(table: RawTable, location: Location, config: Config) -> pd.DataFrame:
    """check_table, with each problem naming the table and the row's id and record key."""
    _check_header(table, location, config)
    try:
        return check_table(table, location.label, config)
    except DataError as exc:
        raise DataError(_with_keys(exc.problems, table, config), exc.unlisted) from None


def _check_header(table: RawTable, location: Location, config: Config) -> None:
    """The column names alone first, so a problem with them names no row."""
    empty = dataclasses.replace(table, frame=table.frame.iloc[:0], lines=table.lines[:0])
    try:
        bridged = bridge_instruments(empty, location.label, config)
        map_columns(bridged.frame.columns, location.label, config)
    except DataError as exc:
        raise DataError([dataclasses.replace(p, line=None) for p in exc.problems],
                        exc.unlisted) from None


def _with_keys(problems: list[Problem], table: RawTable, config: Config) -> list[Problem]:
    renames = {k.strip().lower(): v.strip().lower() for k, v in config.columns.items()}
    heads = [renames.get(str(h).strip().lower(), str(h).strip().lower())
             for h in table.frame.columns]
    position = {int(line): i for i, line in enumerate(table.lines)}
    out = []
    for problem in problems:
        pos = position.get(problem.line) if problem.line is not None else None
        if pos is None:
            out.append(problem)
            continue
        key = ", ".join(str(table.frame.iloc[pos, heads.index(name)]).strip() or "(blank)"
                        for name in KEY_COLUMNS if name in heads)
        out.append(dataclasses.replace(problem, key=key or None))
    return out


def digest_rows(ratings: pd.DataFrame) -> str:
    """A sha256 of the typed rows (what a report made from a database states as its input)."""
    import hashlib

    hashed = pd.util.hash_pandas_object(ratings, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()
