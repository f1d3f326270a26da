"""Telling a database URL from a file path, and the parts of one: table or query, printable form.

`sqlite:///clinic.db?table=ratings` or `postgresql+psycopg://user@host/db?table=ratings`; a query
instead of a table: `...?query=SELECT ...` (URL-encoded). `table` defaults to `ratings`. The
printable form hides the password, so no message or report ever shows one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbook.data.errors import InputFileError

_SCHEME = re.compile(r"^[a-z][a-z0-9+]*://", re.I)
DIALECTS = ("sqlite", "postgresql")
DEFAULT_TABLE = "ratings"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")


def is_database_url(source: object) -> bool:
    """True for 'dialect[+driver]://...' text (a Path never is one)."""
    return isinstance(source, str) and bool(_SCHEME.match(source.strip()))


@dataclass(frozen=True)
class Location:
    """A database source: the URL to connect to, and the table or the query to read."""

    url: object  # sqlalchemy.engine.URL, without our own query parameters
    table: str | None
    query: str | None
    label: str  # printable, password hidden, table or query named

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()


def parse_location(text: str, *, table_required: bool = False) -> Location:
    """Split a source URL into where to connect and what to read; refuse what cannot work."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text.strip())
    except ArgumentError as exc:
        raise InputFileError(f"{_hide(text)}: not a database URL ({exc})") from None
    if url.get_backend_name() not in DIALECTS:
        raise InputFileError(f"{url.render_as_string(hide_password=True)}: expected a sqlite:// "
                             "or postgresql+psycopg:// URL")
    table = _one(url, "table")
    query = _one(url, "query")
    if table and query:
        raise InputFileError(f"{_label(url, None, None)}: give ?table= or ?query=, not both")
    if query and table_required:
        raise InputFileError(f"{_label(url, None, None)}: give a ?table= to write into, not a "
                             "query")
    if not query:
        table = table or DEFAULT_TABLE
        if not _IDENTIFIER.match(table):
            raise InputFileError(f"{_label(url, None, None)}: table {table!r} is not a plain "
                                 "table name (letters, digits, '_', optionally schema.table)")
    url = url.difference_update_query(["table", "query"])
    return Location(url, table, query, _label(url, table, query))


def _one(url, name: str) -> str | None:
    value = url.query.get(name)
    if isinstance(value, tuple):
        raise InputFileError(f"{_label(url, None, None)}: ?{name}= given more than once")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _label(url, table: str | None, query: str | None) -> str:
    base = url.difference_update_query(["table", "query"]).render_as_string(hide_password=True)
    if query:
        return f"{base} (query)"
    return f"{base}?table={table}" if table else base


def _hide(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text)


def sqlite_path(location: Location) -> Path | None:
    """The file of a sqlite URL (None for an in-memory database)."""
    database = location.url.database
    return Path(database) if database and database != ":memory:" else None
