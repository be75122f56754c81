"""The object store: every API object as a JSON document in one SQL table (SQLite or PostgreSQL).

Rows are keyed by (kind, parent, id): `kind` is the object's OpenAI `object` name, `parent` the owner
(thread for messages and runs, run for steps, vector store for its files, "" for top-level objects).
`seq` gives the insertion order that list pages walk. A write either commits whole or not at all.

Queries on a document's fields go through `field(key)`, which writes the JSON path into the SQL
text (not as a parameter), so the database can use the expression indexes on `status` and
`_batch_id`: the ingestion worker's scan for pending files and a batch's file counts then read the
matching rows only, not every vector store file (`bench/store.py`: with 20,000 files, 15 -> 0.8 ms
and 14 -> 0.3 ms).

`get`, which every request makes, runs a statement built once with bound parameters: SQLAlchemy
then skips building the statement and its cache key at each call, most of a lookup's time
(`bench/store.py`: 0.14 -> 0.03 ms).

Beside the objects, four tables let several processes share the database: `workers` (who is alive),
`claims` (which process drives which run), `placements` (which process holds a thread's kernel) and
`events` (every stream event, for any process to serve).

`read()` is for the lookups every search makes: one connection kept open in autocommit mode, so a
lookup takes no connection from the pool and sends no BEGIN or COMMIT (a lookup after a pause, as
a server meets it: 0.42 -> 0.27 ms).
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex

metadata = MetaData()

objects = Table(
    "objects",
    metadata,
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("parent", String(64), nullable=False, default=""),
    Column("id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", JSON, nullable=False),
    UniqueConstraint("kind", "parent", "id", name="uq_objects_key"),
    Index("ix_objects_list", "kind", "parent", "seq"),
)

# The server processes at work on this database, each with its last heartbeat (runtime/work.py).
workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("lease_seconds", Float, nullable=False),  # silent longer than this, it is dead
    # Code sessions it may hold (0: it drives no runs), and holds now: new threads go to the least loaded.
    Column("capacity", Integer, nullable=False, server_default="0"),
    Column("sessions", Integer, nullable=False, server_default="0"),
)

# A run from creation to its end: `worker_id` is the process driving it (none while it is queued or
# waits for tool outputs). One row per thread: the database allows one active run per thread.
claims = Table(
    "claims",
    metadata,
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, unique=True),
    Column("thread_id", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # queued, running, waiting
    Column("worker_id", String(64), nullable=True),
)

# Which process holds the code session (kernel) of a thread: its next runs go to that process.
placements = Table(
    "placements",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("worker_id", String(64), nullable=False),
)

# Every stream event of a run or a response, numbered per stream (runtime/runs/events.py).
events = Table(
    "events",
    metadata,
    Column("stream_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("data", Text, nullable=False),
    Column("at", Float, nullable=False, server_default="0"),  # when it was written: old ones are pruned
)


def field(key: str):
    """The document field `key` as text, its JSON path written into the SQL (see the module doc)."""
    path = bindparam(None, key, type_=JSON.JSONStrIndexType(), literal_execute=True)
    return objects.c.body[path].as_string()


# Indexes made after their tables were (created at start-up on databases made before them too).
LATER_INDEXES = [
    Index("ix_objects_status", objects.c.kind, field("status")),
    Index("ix_objects_batch", objects.c.kind, objects.c.parent, field("_batch_id"), field("status")),
    Index("ix_events_at", events.c.at),
]


_GET = (
    select(objects.c.body)
    .where(objects.c.kind == bindparam("kind"), objects.c.id == bindparam("id"))
    .limit(1)
)
_GET_CHILD = _GET.where(objects.c.parent == bindparam("parent"))


def _sqlite_pragmas(synchronous: str):
    def on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    return on_connect


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    event.listen(engine, "connect", _sqlite_pragmas(synchronous))
    return engine


def open_engine(url: str) -> Engine:
    """Create the engine and the schema (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = _sqlite_engine(url, "FULL")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    metadata.create_all(engine)
    with engine.begin() as conn:  # also on databases made before these columns and indexes existed
        _add_new_columns(conn)
        for index in LATER_INDEXES:
            conn.execute(CreateIndex(index, if_not_exists=True))
    return engine


def _add_new_columns(conn: Connection) -> None:
    """Add the columns a table gained since the database was made (each has a server default)."""
    found = inspect(conn)
    for table in metadata.sorted_tables:
        have = {column["name"] for column in found.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                kind = column.type.compile(conn.dialect)
                maybe = " IF NOT EXISTS" if conn.dialect.name == "postgresql" else ""  # a process racing us
                conn.execute(
                    text(
                        f"ALTER TABLE {table.name} ADD COLUMN{maybe} {column.name} {kind} "
                        f"NOT NULL DEFAULT {column.server_default.arg}"
                    )
                )


def _row(kind: str, body: dict, parent: str) -> dict:
    return {
        "kind": kind,
        "parent": parent,
        "id": body["id"],
        "created_at": body.get("created_at", 0),
        "body": body,
    }


# New objects as psycopg takes them: the event writer stores objects in the transaction of the
# events that announce them, on a connection of its own (runtime/runs/events.py).
INSERT_OBJECT = (
    "INSERT INTO objects (kind, parent, id, created_at, body) "
    "VALUES (%(kind)s, %(parent)s, %(id)s, %(created_at)s, %(body)s)"
)


def object_values(kind: str, body: dict, parent: str) -> dict:
    """The parameters of `INSERT_OBJECT` for a (kind, body, parent) document: its row, the body
    as JSON text."""
    return {**_row(kind, body, parent), "body": json.dumps(body)}


class Tx:
    """Operations inside one transaction."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def insert(self, kind: str, body: dict, parent: str = "") -> dict:
        self.conn.execute(objects.insert().values(_row(kind, body, parent)))
        return body

    def insert_all(self, items: list[tuple[str, dict, str]]) -> None:
        """Insert several (kind, body, parent) documents in one statement."""
        self.conn.execute(objects.insert(), [_row(kind, body, parent) for kind, body, parent in items])

    def get(self, kind: str, object_id: str, parent: str | None = None) -> dict | None:
        key = {"kind": kind, "id": object_id}
        if parent is None:
            row = self.conn.execute(_GET, key).first()
        else:
            row = self.conn.execute(_GET_CHILD, {**key, "parent": parent}).first()
        return row[0] if row else None

    def put(self, kind: str, body: dict, parent: str = "") -> dict:
        """Replace a stored document."""
        self.conn.execute(
            update(objects)
            .where(objects.c.kind == kind, objects.c.parent == parent, objects.c.id == body["id"])
            .values(body=body)
        )
        return body

    def delete(self, kind: str, object_id: str, parent: str = "") -> bool:
        result = self.conn.execute(
            delete(objects).where(
                objects.c.kind == kind, objects.c.parent == parent, objects.c.id == object_id
            )
        )
        return result.rowcount > 0

    def delete_children(self, parent: str, kinds: list[str] | None = None) -> None:
        query = delete(objects).where(objects.c.parent == parent)
        if kinds:
            query = query.where(objects.c.kind.in_(kinds))
        self.conn.execute(query)

    def all(self, kind: str, parent: str | None = None, where: dict | None = None) -> list[dict]:
        query = select(objects.c.body).where(objects.c.kind == kind)
        if parent is not None:
            query = query.where(objects.c.parent == parent)
        query = _filter(query, where).order_by(objects.c.seq)
        return [row[0] for row in self.conn.execute(query)]

    def count(self, kind: str, parent: str | None = None, where: dict | None = None) -> int:
        query = select(func.count()).select_from(objects).where(objects.c.kind == kind)
        if parent is not None:
            query = query.where(objects.c.parent == parent)
        return self.conn.execute(_filter(query, where)).scalar_one()

    def seq_of(self, kind: str, parent: str, object_id: str) -> int | None:
        row = self.conn.execute(
            select(objects.c.seq).where(
                objects.c.kind == kind, objects.c.parent == parent, objects.c.id == object_id
            )
        ).first()
        return row[0] if row else None

    def page(
        self,
        kind: str,
        parent: str,
        *,
        limit: int,
        order: str,
        after_seq: int | None = None,
        before_seq: int | None = None,
        where: dict | None = None,
    ) -> tuple[list[dict], bool]:
        """One cursor page in `order` ("asc"/"desc"), and whether more follow it."""
        query = _filter(
            select(objects.c.body).where(objects.c.kind == kind, objects.c.parent == parent), where
        )
        descending = order == "desc"
        if after_seq is not None:
            query = query.where(objects.c.seq < after_seq if descending else objects.c.seq > after_seq)
        if before_seq is not None:
            query = query.where(objects.c.seq > before_seq if descending else objects.c.seq < before_seq)
        if before_seq is not None and after_seq is None:
            # Walk backwards from the cursor, then restore the requested order.
            query = query.order_by(objects.c.seq.asc() if descending else objects.c.seq.desc())
            rows = [r[0] for r in self.conn.execute(query.limit(limit + 1))]
            return list(reversed(rows[:limit])), len(rows) > limit
        query = query.order_by(objects.c.seq.desc() if descending else objects.c.seq.asc())
        rows = [r[0] for r in self.conn.execute(query.limit(limit + 1))]
        return rows[:limit], len(rows) > limit


def _filter(query, where: dict | None):
    for key, value in (where or {}).items():
        query = query.where(field(key) == value)
    return query


class _Reader:
    """The store's reading connection, opened on first use, in autocommit mode. A statement that
    fails opens a new connection for the next one; one that met a connection the database dropped
    (it restarted) is sent again at once on a new one, which is safe as it only reads."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None

    def execute(self, *args, **kwargs):
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                return self._connection.execute(*args, **kwargs)
            except DBAPIError as exc:
                self.close()
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Store:
    """The database: `store.tx()` opens a transaction; shortcuts run one operation each."""

    def __init__(self, url: str):
        self.engine = open_engine(url)
        self._reader = _Reader(self.engine)
        self._reader_lock = threading.Lock()
        # Commits that need not wait for the disk: on SQLite a second engine in synchronous=NORMAL.
        self._unsynced = _sqlite_engine(url, "NORMAL") if url.startswith("sqlite:///") else None

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def unsynced_tx(self) -> Iterator[Tx]:
        """A transaction whose commit does not wait for the disk: what it writes survives the
        process's death, not the machine's (stream events: the objects they show are written with
        `tx()`). On PostgreSQL `synchronous_commit` is off for it, on SQLite `synchronous=NORMAL`."""
        if self._unsynced is not None:
            with self._unsynced.begin() as conn:
                yield Tx(conn)
            return
        with self.engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Lookups outside a transaction on the store's reading connection (see the module doc):
        each statement sees what was committed when it ran. Callers take turns; write with `tx()`."""
        with self._reader_lock:
            yield Tx(self._reader)

    def get(self, kind: str, object_id: str, parent: str | None = None) -> dict | None:
        with self.tx() as tx:
            return tx.get(kind, object_id, parent)

    def insert(self, kind: str, body: dict, parent: str = "") -> dict:
        with self.tx() as tx:
            return tx.insert(kind, body, parent)

    def put(self, kind: str, body: dict, parent: str = "") -> dict:
        with self.tx() as tx:
            return tx.put(kind, body, parent)

    def all(self, kind: str, parent: str | None = None, where: dict | None = None) -> list[dict]:
        with self.tx() as tx:
            return tx.all(kind, parent, where)

    def close(self) -> None:
        with self._reader_lock:
            self._reader.close()
        self.engine.dispose()
        if self._unsynced is not None:
            self._unsynced.dispose()
