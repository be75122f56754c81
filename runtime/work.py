"""Work shared by the server processes on one database: who is alive, and who drives which run.

Every process registers in `workers` and renews its `heartbeat_at` every third of its lease
(`ASSISTD_LEASE_SECONDS`, kept in its row). A process whose heartbeat is older than its lease is
dead (the others look as the first lease lapses, `next_lapse`): the first process to delete its row
settles what it held (its runs fail, its responses fail,
its containers expire), so nothing waits for a process that is gone, and nothing is settled twice.
While the database is unreachable (PostgreSQL restarting) no process can beat: a process judges
another's silence from the later of its last heartbeat and this process's own last failure to reach
the database, so after an outage every live process has its lease to beat again before it is taken
for dead.

A run has a row in `claims` from its creation to its end. A queued run is claimed by one worker
process with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (a plain select on SQLite, where one
process is all there is): two workers never take the same run and neither waits on the other. A run
waiting for tool outputs gives its claim back (no worker) and is claimed again when they come. The
`thread_id` column is unique, so the database itself allows one active run per thread. The queue is
the database's own tables rather than a job library: a claim is one short transaction, and the rows
are the same ones the API reads and writes.

A thread's code session (its kernel) lives in the process that ran its code (`placements`): the
thread's next runs are left to that process while it lives; once it is gone, any worker takes them
and starts a fresh kernel, and the model is told its session was reset. Each worker has a session
capacity (`ASSISTD_SANDBOX_MAX_SESSIONS`) and reports the sessions it holds (at each heartbeat and
each new placement). The runs of a new thread go to a live worker with room holding the fewest
sessions: a worker takes them while no other with room holds fewer (those tied share them); a run no
such worker took within `GRACE` seconds (that worker stuck, or every worker full) is taken by any.

SQLite serves one process: a second one (a live process id in `workers`) is refused at start.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from runtime.errors import InvalidRequest
from runtime.store import Store, Tx
from runtime.store.db import claims, placements, workers

log = logging.getLogger("assistd.work")

GRACE = 1.0  # seconds a new thread's run waits for the least loaded worker before any worker takes it


class SingleProcessDatabase(RuntimeError):
    """A second process on SQLite."""


class SplitIndex(RuntimeError):
    """Processes on several machines with the embedded vector index."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Work:
    def __init__(
        self,
        store: Store,
        worker_id: str,
        lease_seconds: float,
        host: str = "",
        capacity: int = 0,
        sessions: Callable[[], int] = lambda: 0,
    ):
        self.store, self.id, self.lease = store, worker_id, lease_seconds
        self.host = host or socket.gethostname()
        self.shared = store.engine.dialect.name == "postgresql"
        self.capacity = capacity  # the code sessions this process may hold (0: it drives no runs)
        self.sessions = sessions  # how many it holds now
        self._beating: threading.Event | None = None
        self._waiting: dict[str, float] = {}  # new threads' runs left to another worker: since when
        self._unreachable_at = 0.0  # when this process last failed to reach the database

    # The registry

    def register(self, embedded_index: bool = False) -> list[str]:
        """Join the registry; on SQLite, refuse when another live process uses the database, and
        return the ids of the earlier (dead) processes, whose work is to be settled now. With the
        embedded vector index (`embedded_index`), refuse to join processes on another machine: the
        index would be split."""
        host, pid = self.host, os.getpid()
        with self.store.tx() as tx:
            gone = []
            if self.shared and embedded_index:
                hosts = set(tx.conn.execute(select(workers.c.host)).scalars()) - {host}
                if hosts:
                    raise SplitIndex(
                        f"assistd processes on other machines ({', '.join(sorted(hosts))}) use this "
                        "database; the embedded vector index cannot be shared across machines: set "
                        "ASSISTD_QDRANT_URL to a Qdrant server for every process."
                    )
            if not self.shared:
                for other in tx.conn.execute(select(workers.c.id, workers.c.host, workers.c.pid)):
                    if other.host == host and other.pid != pid and _alive(other.pid):
                        raise SingleProcessDatabase(
                            f"Another assistd process (pid {other.pid}) uses this SQLite database, which "
                            "serves one process; set ASSISTD_DATABASE_URL to a PostgreSQL database to run "
                            "several."
                        )
                    gone.append(other.id)
                tx.conn.execute(delete(workers))
            tx.conn.execute(workers.insert().values(self._row()))
        return gone

    def _row(self) -> dict:
        return {
            "id": self.id,
            "host": self.host,
            "pid": os.getpid(),
            "heartbeat_at": time.time(),
            "lease_seconds": self.lease,
            "capacity": self.capacity,
            "sessions": self.sessions(),
        }

    def beat(self) -> None:
        """Renew the heartbeat every third of the lease from a thread of its own, so a busy event
        loop (a kernel starting, a large upload parsed) never makes a live process look dead."""
        self._beating = threading.Event()

        def beat_forever() -> None:
            while not self._beating.wait(self.lease / 3):
                try:
                    self.heartbeat()
                except Exception:
                    log.exception("heartbeat failed")

        threading.Thread(target=beat_forever, name="heartbeat", daemon=True).start()

    def stop_beating(self) -> None:
        if self._beating is not None:
            self._beating.set()

    def heartbeat(self) -> None:
        with self._reaching(), self.store.tx() as tx:
            done = tx.conn.execute(
                update(workers)
                .where(workers.c.id == self.id)
                .values(heartbeat_at=time.time(), sessions=self.sessions())
            )
            if done.rowcount == 0:  # settled as dead after a long pause: join again
                log.error(
                    "this process was taken for dead (no heartbeat for %s s); its runs were settled",
                    self.lease,
                )
                tx.conn.execute(workers.insert().values(self._row()))

    @contextlib.contextmanager
    def _reaching(self):
        """Note when the database could not be reached (see the module doc)."""
        try:
            yield
        except OperationalError:
            self._unreachable_at = time.time()
            raise

    def unregister(self) -> None:
        with self.store.tx() as tx:
            tx.conn.execute(delete(workers).where(workers.c.id == self.id))

    def take_dead(self) -> list[str]:
        """Remove the processes whose heartbeat lapsed; the ids this call removed (its to settle),
        with those of claims held by processes no longer registered."""
        moment = time.time()
        lapsed = and_(  # each by its own lease, not counting the time this process could not see it beat
            workers.c.heartbeat_at + workers.c.lease_seconds < moment,
            workers.c.lease_seconds + self._unreachable_at < moment,
        )
        taken = []
        with self._reaching(), self.store.tx() as tx:
            stale = tx.conn.execute(select(workers.c.id).where(lapsed)).scalars().all()
            for worker_id in stale:
                done = tx.conn.execute(delete(workers).where(workers.c.id == worker_id, lapsed))
                if done.rowcount:
                    taken.append(worker_id)
            live = select(workers.c.id)
            orphans = tx.conn.execute(
                select(claims.c.worker_id).where(
                    claims.c.worker_id.is_not(None), claims.c.worker_id.not_in(live)
                )
            ).scalars()
            taken += [w for w in set(orphans) if w not in taken]
        return taken

    def next_lapse(self) -> float:
        """Seconds until the lease of another registered process lapses first, as `take_dead`
        judges it (0 if one has lapsed; infinite with none): a look then settles a dead process
        within its lease of its last heartbeat."""
        with self._reaching(), self.store.read() as tx:
            leases = tx.conn.execute(
                select(workers.c.heartbeat_at, workers.c.lease_seconds).where(workers.c.id != self.id)
            ).all()
        lapses = [max(beat, self._unreachable_at) + lease for beat, lease in leases]
        return max(0.0, min(lapses, default=float("inf")) - time.time())

    # Claims

    def enqueue(self, tx: Tx, run: dict) -> None:
        """The run's claim, queued, in the transaction that creates the run."""
        try:  # a second active run of the thread fails here, and the whole transaction with it
            tx.conn.execute(
                claims.insert().values(run_id=run["id"], thread_id=run["thread_id"], state="queued")
            )
        except IntegrityError as exc:
            raise InvalidRequest(
                f"Thread {run['thread_id']} already has an active run.", code="thread_locked"
            ) from exc

    def enqueue_job(self, tx: Tx, job_id: str) -> None:
        """A queued claim for a job of no thread (a background response)."""
        tx.conn.execute(claims.insert().values(run_id=job_id, thread_id=job_id, state="queued"))

    def take(self, job_id: str) -> bool:
        """Claim a job no queue holds (a vector store file to ingest) for this process: False if
        another process has it. A stopped process's jobs are freed when it is settled."""
        try:
            with self.store.unsynced_tx() as tx:
                tx.conn.execute(
                    claims.insert().values(
                        run_id=job_id, thread_id=job_id, state="running", worker_id=self.id
                    )
                )
        except IntegrityError:
            return False
        return True

    def requeue(self, tx: Tx, run_id: str) -> None:
        tx.conn.execute(
            update(claims).where(claims.c.run_id == run_id).values(state="queued", worker_id=None)
        )

    def claim(self, limit: int) -> list[str]:
        """Take up to `limit` queued runs, oldest first: those of threads whose kernel this process
        holds, and those of new threads (no kernel in a live process) if it is `_first_choice` or once
        they waited `GRACE` seconds; never those of a thread whose kernel another live process holds.
        No claim waits for another process's."""
        with self.store.unsynced_tx() as tx:
            queued = claims.c.state == "queued"
            held = select(placements.c.key).join(workers, workers.c.id == placements.c.worker_id)
            here = select(placements.c.key).where(placements.c.worker_id == self.id)
            run_ids = self._lock(tx, and_(queued, claims.c.thread_id.in_(here)), limit)
            new = and_(queued, claims.c.thread_id.not_in(held))
            if self._first_choice(tx):
                run_ids += self._lock(tx, new, limit - len(run_ids))
                self._waiting.clear()
            elif len(run_ids) < limit:
                now = time.monotonic()
                waiting = tx.conn.execute(select(claims.c.run_id).where(new).limit(limit)).scalars()
                self._waiting = {run_id: self._waiting.get(run_id, now) for run_id in waiting}
                overdue = [run_id for run_id, since in self._waiting.items() if now - since >= GRACE]
                if overdue:
                    run_ids += self._lock(tx, and_(new, claims.c.run_id.in_(overdue)), limit - len(run_ids))
            if run_ids:
                tx.conn.execute(
                    update(claims)
                    .where(claims.c.run_id.in_(run_ids))
                    .values(state="running", worker_id=self.id)
                )
        return run_ids

    def _lock(self, tx: Tx, where, limit: int) -> list[str]:
        """Up to `limit` claims matching `where`, oldest first, locked for this transaction (those
        another process has locked are skipped)."""
        query = select(claims.c.run_id).where(where).order_by(claims.c.seq).limit(limit)
        if self.shared:
            query = query.with_for_update(skip_locked=True)
        return list(tx.conn.execute(query).scalars())

    def _first_choice(self, tx: Tx) -> bool:
        """Whether this process is where new threads go now: no other live worker with room holds
        fewer code sessions, and its own sessions leave it room (or no other has any)."""
        if not self.shared:
            return True  # one process
        live = workers.c.heartbeat_at + workers.c.lease_seconds >= time.time()
        query = select(func.min(workers.c.sessions)).where(
            workers.c.id != self.id, workers.c.capacity > 0, workers.c.sessions < workers.c.capacity, live
        )
        fewest = tx.conn.execute(query).scalar()
        if fewest is None:
            return True
        sessions = self.sessions()
        return sessions < self.capacity and sessions <= fewest

    def give_back(self, run_id: str) -> None:
        """The run waits for tool outputs: no process holds it meanwhile."""
        with self.store.unsynced_tx() as tx:
            tx.conn.execute(
                update(claims).where(claims.c.run_id == run_id).values(state="waiting", worker_id=None)
            )

    def finish(self, run_id: str) -> None:
        with self.store.unsynced_tx() as tx:
            tx.conn.execute(delete(claims).where(claims.c.run_id == run_id))

    def take_unclaimed(self, run_id: str) -> bool:
        """End the claim of a run no process drives (queued or waiting): True if this call did."""
        with self.store.tx() as tx:
            done = tx.conn.execute(
                delete(claims).where(claims.c.run_id == run_id, claims.c.worker_id.is_(None))
            )
        return done.rowcount == 1

    def runs_of(self, worker_ids: list[str]) -> list[str]:
        with self.store.tx() as tx:
            query = select(claims.c.run_id).where(claims.c.worker_id.in_(worker_ids))
            return tx.conn.execute(query).scalars().all()

    def drop_thread(self, thread_id: str) -> None:
        with self.store.tx() as tx:
            tx.conn.execute(delete(claims).where(claims.c.thread_id == thread_id))
            tx.conn.execute(delete(placements).where(placements.c.key == thread_id))

    # Placements

    def place(self, key: str) -> None:
        """This process holds the code session of `key` (a thread); its count of sessions is told."""
        with self.store.unsynced_tx() as tx:
            done = tx.conn.execute(
                update(placements).where(placements.c.key == key).values(worker_id=self.id)
            )
            if done.rowcount == 0:
                tx.conn.execute(placements.insert().values(key=key, worker_id=self.id))
            tx.conn.execute(update(workers).where(workers.c.id == self.id).values(sessions=self.sessions()))

    def placed(self, key: str) -> str | None:
        """The process that last held the code session of `key`, if any did."""
        with self.store.read() as tx:
            return tx.conn.execute(select(placements.c.worker_id).where(placements.c.key == key)).scalar()
