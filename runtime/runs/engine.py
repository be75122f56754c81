"""The run engine: starts runs in the background, cancels and expires them, recovers them after a
restart, and holds what every job's loop uses (the model client, the tool runner and its sandbox and
vector stores, the event hub)."""

import asyncio
import logging

from runtime.code_sandbox import CodeSandbox
from runtime.ids import now
from runtime.model_client import ModelClient
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

log = logging.getLogger("assistd.runs")


class RunEngine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        model: ModelClient,
        vector_stores: VectorStores,
        sandbox_provider: CodeSandbox,
    ):
        self.settings, self.store, self.model = settings, store, model
        self.vector_stores = vector_stores
        self.sandbox = sandbox_provider
        self.count_tokens = prompt.count_tokens
        self.hub = EventHub()
        self.tools = ToolRunner(self)
        self._tasks: dict[str, asyncio.Task] = {}
        self._expiring: set[str] = set()
        self._sweeper: asyncio.Task | None = None

    # Lifecycle

    async def start(self) -> None:
        """Settle runs an earlier process left unfinished, then watch for expiry."""
        for status in ("queued", "in_progress", "cancelling"):
            for run in self.store.all("thread.run", where={"status": status}):
                rec = RunRecorder(self.store, self.hub, run)
                if status == "queued":
                    self.launch(run)
                elif status == "cancelling":
                    rec.stop_open_work("cancelled", "run_cancelled")
                    rec.set_run("cancelled")
                else:
                    rec.stop_open_work("failed", "run_failed")
                    rec.set_run(
                        "failed",
                        last_error={
                            "code": "server_error",
                            "message": "The server restarted while this run was in progress.",
                        },
                    )
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        tasks = list(self._tasks.values()) + ([self._sweeper] if self._sweeper else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def launch(self, run: dict) -> None:
        self._tasks[run["id"]] = asyncio.create_task(self._drive(run))

    async def _drive(self, run: dict) -> None:
        rec = RunRecorder(self.store, self.hub, run)
        try:
            await RunLoop(self, RunJob(self, run), rec).run_to_rest()
        except asyncio.CancelledError:
            status = "expired" if run["id"] in self._expiring else "cancelled"
            self._expiring.discard(run["id"])
            rec.stop_open_work(
                status if status == "expired" else "cancelled",
                "run_expired" if status == "expired" else "run_cancelled",
            )
            rec.set_run(status)
        except Exception as exc:
            log.exception("run %s crashed", run["id"])
            rec.stop_open_work("failed", "run_failed")
            rec.set_run("failed", last_error={"code": "server_error", "message": f"Internal error: {exc}"})
        finally:
            self._tasks.pop(run["id"], None)

    async def cancel(self, run: dict) -> dict:
        rec = RunRecorder(self.store, self.hub, run)
        task = self._tasks.get(run["id"])
        if task is None:
            rec.stop_open_work("cancelled", "run_cancelled")
            return rec.set_run("cancelled")
        run = rec.set_run("cancelling")
        task.cancel()  # a running execution interrupts its kernel as it is cancelled
        return run

    async def wait(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait([task])

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self._expire_due()
            except Exception:
                log.exception("expiry sweep failed")

    def _expire_due(self) -> None:
        moment = now()
        for status in ("queued", "in_progress", "requires_action"):
            for run in self.store.all("thread.run", where={"status": status}):
                if not run.get("expires_at") or run["expires_at"] > moment:
                    continue
                task = self._tasks.get(run["id"])
                if task is not None:
                    self._expiring.add(run["id"])
                    task.cancel()
                else:
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
        return run, step

    # Threads

    async def thread_deleted(self, thread_id: str) -> None:
        for run_id, task in list(self._tasks.items()):
            run = self.store.get("thread.run", run_id)
            if run is None or run["thread_id"] == thread_id:
                task.cancel()
        await self.sandbox.close_session(thread_id)

    def is_active(self, run: dict) -> bool:
        return run["status"] not in TERMINAL
