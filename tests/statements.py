"""What a block asks of the database: the statements it sends (the door's path must not grow
N+1 queries), and the work they make it do (a plan must not read a table over and over)."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from webapp.extensions import db


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the statements sent to the database inside the block."""
    sent: list[str] = []

    def listener(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def work(run: Callable[[], object], relation: str) -> int:
    """Return what ``run`` makes the database do: on PostgreSQL the rows of ``relation`` its
    statements read (each run again under EXPLAIN ANALYZE), on SQLite the steps of their
    programs (a progress handler counts them; SQLite tells nothing per table)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw = connection.connection.dbapi_connection
        raw.set_progress_handler(count, 1)
        try:
            run()
        finally:
            raw.set_progress_handler(None, 1)
        return steps[0]
    sent: list[tuple[str, object]] = []

    def listener(_conn, _cursor, statement, parameters, *_args) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    read = 0
    for statement, parameters in sent:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sql = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
            explained = connection.exec_driver_sql(sql, parameters).scalar()
            plan = explained if isinstance(explained, list) else json.loads(explained)
            read += _rows_read(plan[0]["Plan"], relation)
    return read


def _rows_read(node: dict, relation: str) -> int:
    read = 0
    if node.get("Relation Name") == relation:
        loops = node.get("Actual Loops", 1)
        read += node.get("Actual Rows", 0) * loops + node.get("Rows Removed by Filter", 0)
    return read + sum(_rows_read(child, relation) for child in node.get("Plans", []))
