"""Object store benchmark: what a file batch poll and the ingestion worker's scan cost as stores grow.

    python bench/store.py

A SQLite store holds one vector store of N files, 20 of them in the polled batch and 3 pending.
Prints, per N, the time of the batch's counts (`batch_out`, what `GET .../file_batches/{id}`
computes), of the worker's scan for pending files (`_pending`, every second), and of the check that
a search's hits come from completed files (`completed_files`, every search). The first two read only
the matching rows through the `status` and `_batch_id` expression indexes, the third looks its files
up by key, so all stay flat as N grows. Last, what one object's lookup by key costs (`Tx.get`, which
every request makes).
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.store import Store  # noqa: E402
from runtime.vector_stores import BATCH, FILE, batch_out, completed_files  # noqa: E402


def timed(fn, *args, repeat: int = 100, **kwargs) -> float:
    """Mean milliseconds of `fn(*args, **kwargs)`."""
    started = time.perf_counter()
    for _ in range(repeat):
        fn(*args, **kwargs)
    return (time.perf_counter() - started) / repeat * 1000


def main() -> None:
    for files in (500, 5000, 20000):
        store = Store(f"sqlite:///{tempfile.mkdtemp(prefix='assistd-bench-store-')}/assistd.db")
        with store.tx() as tx:
            batch = tx.insert(BATCH, {"id": "b1", "vector_store_id": "vs1", "created_at": 0}, "vs1")
            for n in range(files):
                body = {
                    "id": f"file-{n}",
                    "status": "in_progress" if n < 3 else "completed",
                    "_batch_id": "b1" if n < 20 else "b2",
                    "usage_bytes": 100,
                }
                tx.insert(FILE, body, "vs1")
        with store.tx() as tx:
            poll = timed(batch_out, tx, batch)
            scan = timed(tx.all, FILE, where={"status": "in_progress"})
            hits = [f"file-{n}" for n in range(0, files, files // 10)]  # a search's 10 hit files
            ready = timed(completed_files, tx, ["vs1"], hits)
            lookup = timed(tx.get, FILE, hits[3], "vs1")
        store.close()
        print(
            f"{files:>6} files: batch counts {poll:.2f} ms, pending-files scan {scan:.2f} ms, "
            f"search's completed-files check {ready:.2f} ms, one object by key {lookup:.3f} ms"
        )


if __name__ == "__main__":
    main()
