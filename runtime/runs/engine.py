"""The run engine: claims queued runs and drives them in the background, cancels and expires them,
settles what a stopped process left (runtime/work.py), and holds what every job's loop uses (the
model client, the tool runner and its sandbox and vector stores, the event log).

Any process may create, stream and cancel any run: creating queues it in the database; a worker
process (`ASSISTD_WORKER`, on by default) claims it; its events go through the event log, so the
request that streams them may be served by another process; a cancel reaches the process that
drives the run by a NOTIFY (PostgreSQL), or by that process's next heartbeat should it be lost.

A run that meets an unreachable database (PostgreSQL restarting) fails, saying so, and its end is
written once the database is back: a run whose end is not written would stay in progress, its claim
held by a process that lives on, so nothing else would ever settle it."""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from runtime.code_sandbox import CodeSandbox
from runtime.ids import now
from runtime.model_client import ModelClient
from runtime.notify import Listener
from runtime.runs import prompt
from runtime.runs.events import EventHub
from runtime.runs.loop import RunLoop
from runtime.runs.recorder import TERMINAL, RunRecorder
from runtime.runs.run_job import RunJob
from runtime.runs.tools import ToolRunner
from runtime.runs.transcript import TRANSCRIPT
from runtime.settings import Settings
from runtime.store import Store
from runtime.vector_stores import VectorStores
from runtime.work import Work

log = logging.getLogger("assistd.runs")

WORK_CHANNEL = "assistd_work"  # a run was queued
CANCEL_CHANNEL = "assistd_cancel"  # a run driven by another process is to stop (its id)
PRUNE_EVERY = 600.0  # seconds between prunings of old stream events
STOPPED = "The server process running this run stopped or restarted while it ran."
UNREACHABLE = "The database was unreachable while the run ran (PostgreSQL restarted?)."


def new_worker_id() -> str:
    return "worker_" + secrets.token_hex(8)


class RunEngine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        model: ModelClient,
        vector_stores: VectorStores,
        sandbox_provider: CodeSandbox,
        worker_id: str,
    ):
        self.settings, self.store, self.model = settings, store, model
        self.vector_stores = vector_stores
        self.sandbox = sandbox_provider
        self.count_tokens = prompt.count_tokens
        self.hub = EventHub(store)
        self.tools = ToolRunner(self)
        self.work = Work(
            store,
            worker_id,
            settings.lease_seconds,
            settings.node_name or "",
            capacity=sandbox_provider.capacity if settings.worker else 0,
            sessions=sandbox_provider.session_count,
        )
        self.on_worker_dead: list[Callable[[list[str]], None]] = []  # other services' settling
        self.drivers: dict[str, Callable[[str], Awaitable[None]]] = {}  # id prefix -> driver of claimed jobs
        self._tasks: dict[str, asyncio.Task] = {}
        self._expiring: set[str] = set()
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task] = []
        self._listener: Listener | None = None

    # Lifecycle

    async def start(self) -> None:
        """Join the workers, settle what dead processes left (at once on SQLite, where any earlier
        process is dead; after their lease on PostgreSQL), then claim runs and watch for expiry."""
        self._settle(self.work.register(embedded_index=not self.settings.qdrant_url))
        self.work.beat()
        self._loops = [asyncio.create_task(loop()) for loop in (self._heartbeats, self._claims, self._sweep)]
        if self.work.shared:
            self._listener = Listener(
                self.settings.db_url,
                {
                    EventHub.CHANNEL: self.hub.wake,
                    WORK_CHANNEL: lambda _: self._wake.set(),
                    CANCEL_CHANNEL: self.cancelled_elsewhere,
                },
            )
            self._listener.start()

    async def close(self) -> None:
        """Stop claiming, let the runs in hand finish for up to `ASSISTD_DRAIN_SECONDS`, then cancel
        what is left and leave the registry."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._listener is not None:
            await self._listener.close()
        if self._tasks:
            log.info("draining %d runs", len(self._tasks))
            await asyncio.wait(list(self._tasks.values()), timeout=self.settings.drain_seconds)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.hub.flush()
        self.work.stop_beating()
        self.work.unregister()

    def submit(self) -> None:
        """A run was queued (its claim is in the database): a worker takes it."""
        self._wake.set()
        self.notify(WORK_CHANNEL, "")

    def notify(self, channel: str, payload: str) -> None:
        if self.work.shared:
            with self.store.tx() as tx:
                tx.conn.execute(select(func.pg_notify(channel, payload)))

    async def _claims(self) -> None:
        """Take queued runs while this process is a worker: when woken, and every half second."""
        while self.settings.worker:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):  # no task of its own: woken on the next turn
                    await self._wake.wait()
            self._wake.clear()
            try:
                for job_id in self.work.claim(limit=16):
                    self._tasks[job_id] = asyncio.create_task(self._drive_job(job_id))
            except Exception:
                log.exception("claiming runs failed")
        await asyncio.Event().wait()

    async def _heartbeats(self) -> None:
        """Settle processes whose lease lapsed, looking every third of the lease and as the first
        lease lapses (a killed process's runs are settled within its lease, not up to a third
        later); stop runs cancelled elsewhere, should their notice have been lost. (The heartbeat
        itself beats in a thread of its own: `Work.beat`.)"""
        every = self.settings.lease_seconds / 3
        wait = every
        while True:
            await asyncio.sleep(wait)
            wait = every
            try:
                self._settle(self.work.take_dead())
                for run_id, task in list(self._tasks.items()):
                    run = self.store.get("thread.run", run_id)
                    if run is not None and run["status"] == "cancelling":
                        task.cancel()
                wait = min(every, max(self.work.next_lapse() + 0.01, 0.05))
            except Exception:
                log.exception("heartbeat failed")

    def _settle(self, dead: list[str]) -> None:
        """End what dead processes held: their runs fail (or are cancelled, if that was asked)."""
        if not dead:
            return
        log.warning("settling the work of stopped processes %s", dead)
        for run_id in self.work.runs_of(dead):
            run = self.store.get("thread.run", run_id)
            if run is not None and run["status"] not in TERMINAL:
                rec = RunRecorder(self.store, self.hub, run)
                if run["status"] == "cancelling":
                    rec.stop_open_work("cancelled", "run_cancelled")
                    rec.set_run("cancelled")
                else:
                    rec.stop_open_work("failed", "run_failed")
                    rec.set_run("failed", last_error={"code": "server_error", "message": STOPPED})
            self.work.finish(run_id)
        for hook in self.on_worker_dead:
            hook(dead)

    async def _drive_job(self, job_id: str) -> None:
        """Drive a claimed job: a run here, another kind by the service that registered its id prefix."""
        kind = next((prefix for prefix in self.drivers if job_id.startswith(prefix)), None)
        if kind is not None:
            try:
                await self.drivers[kind](job_id)
            finally:
                self._tasks.pop(job_id, None)
                await self._written(lambda: self.work.finish(job_id))
            return
        run = self.store.get("thread.run", job_id)
        if run is None:
            self._tasks.pop(job_id, None)
            self.work.finish(job_id)
            return
        await self._drive(run)

    async def _drive(self, run: dict) -> None:
        rec = RunRecorder(self.store, self.hub, run)
        try:
            await RunLoop(self, RunJob(self, run), rec).run_to_rest()
        except asyncio.CancelledError:
            status = "expired" if run["id"] in self._expiring else "cancelled"
            self._expiring.discard(run["id"])
            reason = "run_expired" if status == "expired" else "run_cancelled"
            step_status = status if status == "expired" else "cancelled"
            await self._written(lambda: (rec.stop_open_work(step_status, reason), rec.set_run(status)))
        except OperationalError as exc:
            log.warning("run %s failed: the database is unreachable (%s)", run["id"], exc.orig)
            await self._written(lambda: self._fail(rec, UNREACHABLE))
        except Exception as exc:
            log.exception("run %s crashed", run["id"])
            message = f"Internal error: {exc}"
            await self._written(lambda: self._fail(rec, message))
        finally:
            self._tasks.pop(run["id"], None)
            if rec.run["status"] == "requires_action":
                await self._written(lambda: self.work.give_back(run["id"]))
            else:
                await self._written(lambda: self.work.finish(run["id"]))

    @staticmethod
    def _fail(rec: RunRecorder, message: str) -> None:
        rec.stop_open_work("failed", "run_failed")
        rec.set_run("failed", last_error={"code": "server_error", "message": message})

    async def _written(self, write: Callable[[], object]) -> None:
        """Write a job's end, trying again every second while the database is unreachable (see the
        module doc)."""
        while True:
            try:
                write()
                return
            except OperationalError as exc:
                log.warning("writing the end of a job failed (%s); trying again", exc.orig)
                await asyncio.sleep(1.0)

    async def cancel(self, run: dict) -> dict:
        rec = RunRecorder(self.store, self.hub, run)
        if self.work.take_unclaimed(run["id"]):  # queued or waiting for outputs: no process drives it
            rec.stop_open_work("cancelled", "run_cancelled")
            return rec.set_run("cancelled")
        run = rec.set_run("cancelling")
        task = self._tasks.get(run["id"])
        if task is not None:
            task.cancel()  # a running execution interrupts its kernel as it is cancelled
        else:
            self.notify(CANCEL_CHANNEL, run["id"])  # the process that drives it stops it
        return run

    async def cancel_job(self, job_id: str) -> None:
        """Stop a claimed job where it runs: here at once, in another process by a notice."""
        task = self._tasks.get(job_id)
        if task is None:
            self.notify(CANCEL_CHANNEL, job_id)
            return
        task.cancel()
        await asyncio.wait([task], timeout=5)

    def cancelled_elsewhere(self, job_id: str) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    async def wait(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait([task])

    async def _sweep(self) -> None:
        """Expire due runs every second; prune old stream events every ten minutes (and at start)."""
        pruned = -PRUNE_EVERY
        while True:
            await asyncio.sleep(1.0)
            try:
                self._expire_due()
                if time.monotonic() - pruned >= PRUNE_EVERY:
                    pruned = time.monotonic()
                    await asyncio.to_thread(self.hub.prune, self.settings.events_keep_seconds)
            except Exception:
                log.exception("expiry sweep failed")

    def _expire_due(self) -> None:
        """Expire the due runs this process drives, and the due ones no process drives."""
        moment = now()
        for status in ("queued", "in_progress", "requires_action"):
            for run in self.store.all("thread.run", where={"status": status}):
                if not run.get("expires_at") or run["expires_at"] > moment:
                    continue
                task = self._tasks.get(run["id"])
                if task is not None:
                    self._expiring.add(run["id"])
                    task.cancel()
                elif self.work.take_unclaimed(run["id"]):
                    rec = RunRecorder(self.store, self.hub, run)
                    rec.stop_open_work("expired", "run_expired")
                    rec.set_run("expired")

    # Tool outputs: the run continues from its transcript

    def accept_tool_outputs(self, tx, run: dict, outputs: dict[str, str]) -> tuple[dict, dict]:
        """Record the client's function outputs (in the request's transaction); the run is queued again."""
        step = next(s for s in tx.all("thread.run.step", run["id"]) if s["status"] == "in_progress")
        for call in step["step_details"]["tool_calls"]:
            if call["type"] == "function" and call["id"] in outputs:
                call["function"]["output"] = outputs[call["id"]]
        step["status"], step["completed_at"] = "completed", now()
        tx.put("thread.run.step", step, parent=run["id"])
        transcript = tx.get(TRANSCRIPT, run["id"], parent=run["id"])
        for call_id, output in outputs.items():
            transcript["messages"].append({"role": "tool", "tool_call_id": call_id, "content": output})
        tx.put(TRANSCRIPT, transcript, parent=run["id"])
        run.update(status="queued", required_action=None)
        tx.put("thread.run", run, parent=run["thread_id"])
        self.work.requeue(tx, run["id"])
        return run, step

    # Threads

    async def thread_deleted(self, thread_id: str) -> None:
        for run_id, task in list(self._tasks.items()):
            run = self.store.get("thread.run", run_id)
            if run is None or run["thread_id"] == thread_id:
                task.cancel()
        self.work.drop_thread(thread_id)
        await self.sandbox.close_session(thread_id)

    def is_active(self, run: dict) -> bool:
        return run["status"] not in TERMINAL
