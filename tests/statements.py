"""Count the SQL statements a block sends (the door's path must not grow N+1 queries)."""

from collections.abc import Iterator
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
