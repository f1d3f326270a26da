"""Database sources and `workbook import`, on SQLite and on a real PostgreSQL server.

PostgreSQL runs as a throwaway cluster under the test's temporary folder on 127.0.0.1 (see
tests/pgserver.py). Without the server binaries these tests skip, except when
WORKBOOK_REQUIRE_POSTGRES=1 (CI), where a missing PostgreSQL fails them.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import types

import pandas as pd
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgserver import find_bindir, running_cluster

from workbook import DataError, analyse, load_config, load_ratings, parse_month
from workbook.data.errors import ConflictError, InputFileError
from workbook.data.sources import database, store
from workbook.data.sources.store import import_ratings
from workbook.runs.cli import main

EXAMPLE, CONFIG = EXAMPLES / "caseload.csv", EXAMPLES / "workbook.yml"
_names = itertools.count()


@pytest.fixture(scope="module")
def postgres():
    """The URL of a PostgreSQL server started for this module."""
    if find_bindir() is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("WORKBOOK_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; WORKBOOK_REQUIRE_POSTGRES=1 requires them")
        pytest.skip(message)
    with running_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request, tmp_path):
    """new_store() -> the URL of a table that does not exist yet."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / f'clinic{next(_names)}.db'}?table=ratings"
    base = request.getfixturevalue("postgres")
    return lambda: f"{base}?table=ratings_{next(_names)}"


@pytest.fixture(scope="module")
def example():
    config = load_config(CONFIG)
    return config, load_ratings(EXAMPLE, config)


def test_a_file_imported_reads_back_as_the_same_ratings_and_analysis(new_store, example):
    config, expected = example
    url = new_store()
    result = import_ratings(EXAMPLE, url, config)
    assert (result.added, result.unchanged, result.created) == (len(expected), 0, True)
    stored = load_ratings(url, config)
    pd.testing.assert_frame_equal(stored, expected)
    month = parse_month("2026-10")
    a, b = analyse(stored, config, month), analyse(expected, config, month)
    pd.testing.assert_frame_equal(a.discussion, b.discussion)
    assert "***" in stored.attrs["source"] or url.startswith("sqlite")


def test_the_same_file_twice_is_a_no_op(new_store, example):
    config, expected = example
    url = new_store()
    import_ratings(EXAMPLE, url, config)
    again = import_ratings(EXAMPLE, url, config)
    assert (again.added, again.unchanged) == (0, len(expected))
    assert len(load_ratings(url, config)) == len(expected)


def _month_files(tmp_path, expected):
    raw = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False).drop(columns="session_number")
    early = raw[raw["session_date"] < "2026-07-01"]
    late = raw[raw["session_date"] >= "2026-07-01"]
    paths = tmp_path / "early.csv", tmp_path / "late.csv"
    early.to_csv(paths[0], index=False)
    late.to_csv(paths[1], index=False)
    return paths, raw


def test_imports_in_parts_derive_session_numbers_over_the_whole_store(new_store, tmp_path,
                                                                       example):
    config, _ = example
    (early, late), raw = _month_files(tmp_path, example)
    whole = tmp_path / "whole.csv"
    raw.to_csv(whole, index=False)
    url = new_store()
    import_ratings(late, url, config)
    import_ratings(early, url, config)
    pd.testing.assert_frame_equal(load_ratings(url, config), load_ratings(whole, config))


def test_a_conflicting_record_is_refused_with_both_versions_and_nothing_written(
        new_store, tmp_path, example):
    config, expected = example
    url = new_store()
    import_ratings(EXAMPLE, url, config)
    raw = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    changed = raw.copy()
    row = changed.index[(changed["rater"] == "client") & (changed["trust_safety"] != "")][0]
    old = changed.loc[row, "trust_safety"]
    changed.loc[row, "trust_safety"] = "0" if old != "0" else "1"
    extra = changed.iloc[[0]].assign(session_date="2026-10-31", client_id="NEW1")
    path = tmp_path / "changed.csv"
    pd.concat([changed, extra]).to_csv(path, index=False)
    with pytest.raises(ConflictError) as info:
        import_ratings(path, url, config)
    [conflict] = info.value.conflicts
    key = f"{raw.loc[row, 'client_id']}, {raw.loc[row, 'session_date']}, client"
    assert key in conflict and f"trust_safety {changed.loc[row, 'trust_safety']}" in conflict
    assert f"trust_safety {old}" in conflict and "row id" in conflict
    assert len(load_ratings(url, config)) == len(expected)  # NEW1 was not written either


def test_a_new_rating_of_a_stored_session_must_agree_on_attendance(new_store, tmp_path):
    url = new_store()
    first = tmp_path / "a.csv"
    first.write_text("client_id,therapist_id,session_date,rater,attendance,trust_safety\n"
                     "C1,T1,2026-01-05,client,attended,8\n")
    import_ratings(first, url)
    second = tmp_path / "b.csv"
    second.write_text("client_id,therapist_id,session_date,rater,attendance,trust_safety\n"
                      "C1,T1,2026-01-05,therapist,no_show,\n")
    with pytest.raises(ConflictError, match="attendance no_show.*attendance attended"):
        import_ratings(second, url)


def test_a_crash_inside_the_import_leaves_the_store_as_it_was(new_store, tmp_path, example,
                                                              monkeypatch):
    config, expected = example
    url = new_store()

    def crash(*args, **kwargs):
        raise RuntimeError("the machine went down mid-import")

    monkeypatch.setattr(store, "_log", crash)  # after every row was inserted
    with pytest.raises(RuntimeError):
        import_ratings(EXAMPLE, url, config)
    with pytest.raises(InputFileError, match="no table 'ratings|not found"):
        load_ratings(url, config)
    monkeypatch.undo()
    (early, late), _ = _month_files(tmp_path, example)
    first = import_ratings(early, url, config)
    monkeypatch.setattr(store, "_log", crash)
    with pytest.raises(RuntimeError):
        import_ratings(late, url, config)
    assert len(load_ratings(url, config)) == first.added < len(expected)


def test_bad_rows_in_a_table_name_the_table_row_id_and_record(new_store, tmp_path):
    url = new_store()
    good = tmp_path / "good.csv"
    good.write_text("client_id,therapist_id,session_date,trust_safety\n"
                    "C1,T1,2026-01-05,8\nC2,T1,2026-01-06,7\n")
    import_ratings(good, url)
    from sqlalchemy import create_engine, text

    from workbook.data.sources.urls import parse_location

    location = parse_location(url)
    engine = create_engine(location.url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {location.table} SET trust_safety = 12 WHERE "
                          "client_id = 'C2'"))
    engine.dispose()
    with pytest.raises(DataError) as info:
        load_ratings(url)
    [problem] = info.value.problems
    assert (problem.line, problem.unit, problem.key, problem.column) == (
        2, "row id", "C2, 2026-01-06, client", "trust_safety")
    assert str(problem).startswith(f"{location.label}, row id 2 (C2, 2026-01-06, client), "
                                   "column 'trust_safety': got '12")


def test_a_query_is_read_like_a_table_and_cannot_write(new_store, tmp_path):
    url = new_store()
    import_ratings(EXAMPLE, url)
    base, table = url.split("?table=")
    query = f"{base}?query=SELECT * FROM {table} WHERE therapist_id = 'T01'"
    part = load_ratings(query)
    assert set(part["therapist_id"]) == {"T01"} and len(part)
    with pytest.raises(InputFileError, match="cannot be read"):
        load_ratings(f"{base}?query=DELETE FROM {table} RETURNING *")
    assert len(load_ratings(url)) == len(load_ratings(EXAMPLE))


def test_missing_database_file_and_table_are_input_errors(tmp_path, capsys):
    db = tmp_path / "clinic.db"
    assert main(["validate", f"sqlite:///{db}"]) == 5
    assert "not found" in capsys.readouterr().err and not db.exists()
    sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.commit()
    assert main(["validate", f"sqlite:///{db}?table=ratings"]) == 5
    assert "no table 'ratings'; its tables: other" in capsys.readouterr().err


def test_the_password_is_never_printed(postgres, capsys):
    wrong = postgres.replace("@127.0.0.1", "x@127.0.0.1")
    password = wrong.split(":")[2].split("@")[0]
    assert main(["validate", f"{wrong}?table=ratings"]) == 5
    err = capsys.readouterr().err
    assert "password authentication failed" in err and password not in err and "***" in err
    assert main(["import", str(EXAMPLE), "--into", f"{postgres}?table=pw_check"]) == 0
    assert main(["validate", f"{postgres}?table=pw_check"]) == 0
    out = capsys.readouterr().out
    assert postgres.split(":")[2].split("@")[0] not in out and "***" in out


def test_import_command_exit_codes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["import", str(EXAMPLE), "--into", url]) == 0
    assert "4,280 new record(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("client_id,therapist_id,session_date,trust_safety\nC1,T1,2026-01-05,11\n")
    assert main(["import", str(bad), "--into", url]) == 4
    changed = tmp_path / "changed.csv"
    text = EXAMPLE.read_text().splitlines()
    head, first = text[0].split(","), text[1].split(",")
    first[head.index("site")] = "elsewhere"
    changed.write_text("\n".join([text[0], ",".join(first)]) + "\n")
    assert main(["import", str(changed), "--into", url]) == 9
    assert "site elsewhere" in capsys.readouterr().err
    assert main(["import", str(EXAMPLE), "--into", f"{url}?query=SELECT 1"]) == 5


def test_the_notebooks_data_parameter_takes_a_database_url(tmp_path):
    from workbook.data import parameters as P
    from workbook.views.filters import validate_parameters

    url = f"sqlite:///{tmp_path / 'c.db'}?table=ratings"
    assert P.data_source("data", url) == url
    assert validate_parameters({"data": url}).data == url
    assert P.data_source("data", None) == EXAMPLE.resolve()


def test_an_empty_table_is_refused_like_an_empty_file(new_store):
    from sqlalchemy import MetaData

    from workbook.data.config import Config
    from workbook.data.sources.database import open_engine
    from workbook.data.sources.urls import parse_location

    url = new_store()
    location = parse_location(url)
    engine = open_engine(location, create=True)
    with engine.begin() as conn:
        store.ratings_table(MetaData(), location.table, None, Config()).create(conn)
    engine.dispose()
    with pytest.raises(DataError, match="at least one rating row"):
        load_ratings(url)


# SQLite read two ways: Arrow columns through ADBC, and the sqlite3 driver's rows (the
# oracle). Whatever SQLite's dynamic typing puts in a column, both give the same cells.

_SQLITE_VALUES = st.one_of(
    st.none(), st.integers(-10**12, 10**12), st.sampled_from([7.0, 7.5, -0.0, 1e300, 0.1]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
    st.sampled_from(["7", "7.0", " 8", "", "é", "2026-10-01"]), st.binary(max_size=3))


def _driver_conn(path):
    connection = sqlite3.connect(path)
    return types.SimpleNamespace(connection=types.SimpleNamespace(dbapi_connection=connection))


def _fill(path, columns):
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE IF EXISTS t")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a DOUBLE, b TEXT, c)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                               [(i + 1, *row) for i, row in enumerate(zip(*columns, strict=True))])
    connection.close()


def _cells(frame):
    return {n: list(frame[n].astype(object).where(frame[n].notna(), None)) for n in frame}


_UNIFORM = [st.one_of(st.none(), st.integers(-10**12, 10**12), st.just(2**60 + 1)),
            st.one_of(st.none(), st.sampled_from([7.0, 7.5, -0.0, 1e300, 0.1]), st.floats(
                allow_nan=False, allow_infinity=False)),
            st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["7", "7.0", " 8", ""]))]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 40), st.lists(st.sampled_from([0, 1, 2, 3]), min_size=3, max_size=3),
       st.data())
def test_sqlite_arrow_read_equals_the_driver_rows(tmp_path, n, kinds, data):
    """Columns of one storage class each (the Arrow path) or of mixed ones (the driver's
    rows; SQLite's column affinity decides which): the same cells either way."""
    values = [_UNIFORM[k] if k < 3 else _SQLITE_VALUES for k in kinds]
    pad = data.draw(st.sampled_from([0, 1030]))  # past the rows the driver types a column by
    columns = [[data.draw(v)] * pad + data.draw(st.lists(v, min_size=n, max_size=n))
               for v in values]
    path = tmp_path / "mixed values #1?.db"
    _fill(path, columns)
    sql, names = 'SELECT "id", "a", "b", "c" FROM t', ["id", "a", "b", "c"]
    fast = database._fetch(_driver_conn(path), sql, names, "id", path)
    plain = database._fetch(_driver_conn(path), sql, names, "id", None)
    assert list(fast["id"]) == list(plain["id"])
    assert _cells(fast) == _cells(plain)


def test_a_clean_sqlite_table_is_read_as_arrow_columns(tmp_path):
    path = tmp_path / "clinic store.db"
    _fill(path, ([7.0, None, 2.5], ["C1", "C2", None], [1, 2, 3]))
    table = database._fetch_arrow(path, "SELECT id, a, b, c FROM t")
    assert table is not None and table.num_rows == 3
    assert database._arrow_is_exact(_driver_conn(path), "SELECT id, a, b, c FROM t",
                                    ["id", "a", "b", "c"], table)
    assert database._fetch_arrow(path, "DELETE FROM t RETURNING *") is None  # read-only
    assert len(sqlite3.connect(path).execute("SELECT * FROM t").fetchall()) == 3


def test_the_test_cluster_moves_to_another_port_when_its_first_is_taken(postgres, monkeypatch):
    """Another process may take the free port between its choice and the server's start (the
    suite runs test files in parallel): the cluster then starts on a new port."""
    import socket

    import pgserver
    from sqlalchemy import create_engine, text

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1], pgserver._free_port()])
    monkeypatch.setattr(pgserver, "_free_port", lambda: next(ports))
    with taken, running_cluster() as url:
        assert f":{taken.getsockname()[1]}/" not in url
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()


def test_the_notebooks_data_parameter_never_holds_the_password(monkeypatch):
    """The URL the notebooks get (and keep in the executed notebook) has no password; the
    kernel gets it as PGPASSWORD."""
    from workbook.runs.cli import _source_text

    monkeypatch.delenv("PGPASSWORD", raising=False)
    text = _source_text("postgresql+psycopg://clinic:s3cret@127.0.0.1:5432/db?table=ratings")
    assert "s3cret" not in text and os.environ["PGPASSWORD"] == "s3cret"
    assert text == "postgresql+psycopg://clinic@127.0.0.1:5432/db?table=ratings"
