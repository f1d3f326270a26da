"""Issue 13's promises for the sources and subcommands issue 16 added: an instrument export's
and a database table's problems are all counted (the first 50 of each kind listed), and
`template`, `card` and `import` meet a full disk (exit 10), an unwritable output (exit 11) and
an output that is a folder like the other commands: a plain message, nothing half-written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from workbook import DataError, load_ratings
from workbook.data.errors import LISTED_PER_KIND
from workbook.runs.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "caseload.csv"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _mount(folder: Path, options: str) -> None:
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)


def _umount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)]).returncode:
        subprocess.run(["umount", "-l", str(folder)])


@pytest.fixture
def full_disk(tmp_path):
    """A 300 kB tmpfs filled but for 4 kB (root only: CI runs as root)."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root; CI runs as root")
    disk = tmp_path / "disk"
    _mount(disk, "size=300k")
    try:
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - 4096))
        yield disk
    finally:
        _umount(disk)


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written in (a read-only mount as root, else mode 555)."""
    folder = tmp_path / "ro"
    if IS_ROOT:
        _mount(folder, "size=64k,ro")
    else:
        folder.mkdir()
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if IS_ROOT:
            _umount(folder)
        else:
            folder.chmod(0o755)


def _new_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "filler")


# --- 12. every problem counted, in the new sources too ---------------------------------------

def test_instrument_export_problems_are_all_counted_and_fifty_listed(tmp_path):
    n = 1_100  # past the old cap of 1,000 per check
    lines = ["client_id,therapist_id,session_date,SRS1,SRS2,SRS3,SRS4"]
    lines += [f"C{i},T1,2026-01-{i % 28 + 1:02d},11,8,9,9" for i in range(n)]
    path = tmp_path / "srs.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_ratings(path)
    error = info.value
    assert error.count == n
    assert len(error.problems) == LISTED_PER_KIND
    assert [p.line for p in error.problems] == list(range(2, 2 + LISTED_PER_KIND))
    assert f"{n:,} problems found" in str(error)
    assert f"... and {n - LISTED_PER_KIND:,} more like this (column 'SRS1'" in str(error)


def test_database_table_problems_are_all_counted_with_their_record_keys(tmp_path):
    db = tmp_path / "clinic.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE ratings (client_id TEXT, therapist_id TEXT, "
                     "session_date TEXT, trust_safety REAL)")
        conn.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)",
                         [(f"C{i}", "T 1" if i % 2 else "T1", f"2026-01-{i % 28 + 1:02d}", 7)
                          for i in range(240)])
        conn.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)",
                         [(f"D{i}", "T1", "2026-01-05", 12) for i in range(60)])
    with pytest.raises(DataError) as info:
        load_ratings(f"sqlite:///{db}?table=ratings")
    error = info.value
    assert error.count == 120 + 60
    kinds = error.by_kind()
    assert sorted(len(listed) for listed in kinds.values()) == [LISTED_PER_KIND] * 2
    assert all(p.key for p in error.problems)  # each names its record
    assert "... and 70 more like this (column 'therapist_id'" in str(error)
    assert "... and 10 more like this (column 'trust_safety'" in str(error)


# --- 8, 9. full disk, unwritable output, an output that is a folder: template, card ----------

@pytest.mark.parametrize("command, name", [("template", "ratings.xlsx"), ("card", "card.pdf")])
def test_template_and_card_on_a_full_disk_exit_10_and_leave_nothing(full_disk, capsys, command,
                                                                     name):
    assert main([command, "--out", str(full_disk / name)]) == 10
    err = capsys.readouterr().err
    assert f"no space left on the disk of {full_disk}: could not write {name}" in err
    assert "Traceback" not in err and "internal error" not in err
    assert _new_files(full_disk) == []


@pytest.mark.parametrize("command, name", [("template", "ratings.xlsx"), ("card", "card.pdf")])
def test_template_and_card_into_an_unwritable_folder_or_onto_a_folder_exit_11(
        read_only, tmp_path, capsys, command, name):
    assert main([command, "--out", str(read_only / name)]) == 11
    err = capsys.readouterr().err
    assert f"cannot write {read_only / name}" in err and "internal error" not in err
    (tmp_path / name).mkdir()
    assert main([command, "--out", str(tmp_path / name)]) == 11
    err = capsys.readouterr().err
    assert f"--out {tmp_path / name}: is a folder; expected a file name" in err


# --- 8, 9. import into a store on a full disk or a read-only one -----------------------------

def test_import_into_a_store_on_a_full_disk_exits_10_and_leaves_no_store(full_disk, capsys):
    url = f"sqlite:///{full_disk / 'clinic.db'}?table=ratings"
    assert main(["import", str(EXAMPLE), "--into", url]) == 10
    err = capsys.readouterr().err
    assert "no space left for the store; the import was rolled back, nothing was written" in err
    assert "internal error" not in err
    assert _new_files(full_disk) == []  # the store it had begun is removed again


def test_import_into_a_read_only_store_exits_11(read_only, capsys):
    url = f"sqlite:///{read_only / 'clinic.db'}?table=ratings"
    assert main(["import", str(EXAMPLE), "--into", url]) == 11
    err = capsys.readouterr().err
    assert "the store cannot be written; the import was rolled back" in err
    assert "internal error" not in err and _new_files(read_only) == []


# --- 2. Excel error cells and formulas with no value in an instrument export -----------------

def test_excel_error_cells_in_an_instrument_export_are_refused_by_cell(tmp_path):
    """Item and total columns are replaced by the signs they feed: their error cells must be
    reported by the export's mapping, or a row of error cells would become a blank rating."""
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "srs.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Export"
    sheet.append(["client_id", "therapist_id", "session_date", "SRS1", "SRS2", "SRS3", "SRS4",
                  "Total_SRS"])
    sheet.append(["C1", "T1", "2026-01-05", 9, 8, 9, 9, 35])
    sheet.append(["C2", "T1", "2026-01-05", "=1/0", "=1/0", "=1/0", "=1/0", "=SUM(D3:G3)"])
    book.save(path)
    with pytest.raises(DataError) as info:
        load_ratings(path)
    text = str(info.value)
    assert info.value.count == 5
    for cell in ("D3", "E3", "F3", "G3", "H3"):
        assert f"sheet 'Export', cell {cell}, row 3" in text
    assert "with no stored result" in text and "\ufdd0" not in text
