"""Backup and restore of the whole database: SQLite's online backup API, or pg_dump/pg_restore."""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """The backup or restore could not be made."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database into the target file."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(_sqlite_path(url)) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        copy.close()
        return
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq(url)], url)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with those of a backup file."""
    if not source.is_file():
        raise BackupError(f"No backup file at {source}")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(source) as copy, sqlite3.connect(_sqlite_path(url)) as target:
            copy.backup(target)
        target.close()
        return
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq(url)}",
            str(source),
        ],
        url,
    )


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up")
    return url.database


def _libpq(url: URL) -> str:
    """Return the connection URL without its password (others can read a command line)."""
    plain = url._replace(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)


def _run(command: list[str], url: URL) -> None:
    """Run a PostgreSQL client; the password reaches it through PGPASSWORD only."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian package postgresql-client)")
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0:
        raise BackupError(result.stderr.strip() or f"{command[0]} failed")
