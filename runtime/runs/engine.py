"""The run engine: starts runs in the background, cancels and expires them, recovers them after a
restart, and gives the run loop what it needs (prompt, sandbox session, vector stores, files)."""

import asyncio
import logging
import posixpath

from runtime.code_sandbox import CodeSandbox
from runtime.files import OUTPUT_PURPOSE, file_path, save_file
from runtime.ids import now
from runtime.model_client import ModelClient
from runtime.runs import prompt
from runtime.runs.events import EventHub
from runtime.runs.loop import RunLoop
from runtime.runs.recorder import TERMINAL, RunRecorder
from runtime.runs.tools import ToolRunner
from runtime.runs.transcript import TRANSCRIPT, new_transcript
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
            await RunLoop(self, rec).run_to_rest()
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

    # Transcript: the run's own exchanges with the model, kept between passes

    def transcript(self, run_id: str) -> dict:
        return self.store.get(TRANSCRIPT, run_id, parent=run_id) or new_transcript(run_id, {})

    def save_transcript(self, transcript: dict) -> None:
        self.store.put(TRANSCRIPT, transcript, parent=transcript["id"])

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

    # Prompt

    def _read_image(self, file_id: str) -> tuple[bytes, str] | None:
        found = self.store.get("file", file_id)
        path = file_path(self.settings, file_id)
        if found is None or not path.exists():
            return None
        return path.read_bytes(), found["filename"]

    def build_prompt(self, run: dict, transcript: dict) -> tuple[list[dict], list[dict], dict]:
        tools, kinds = prompt.model_tools(run["tools"])
        system_text = run.get("instructions") or ""
        code_files = self.code_interpreter_files(run)
        if "python" in kinds and code_files:
            listing = "\n".join(f"- /mnt/data/{f['filename']}" for f in code_files)
            system_text += f"\n\nFiles available to the python tool:\n{listing}"
        fixed = [{"role": "system", "content": system_text.strip()}] if system_text.strip() else []
        history = [
            prompt.chat_message(m, self._read_image)
            for m in self.store.all("thread.message", run["thread_id"])
            if m.get("run_id") != run["id"]
        ]
        strategy = run.get("truncation_strategy") or {"type": "auto"}
        kept = prompt.truncate(
            history,
            fixed + transcript["messages"],
            strategy,
            self.settings.model_context_tokens,
            self.count_tokens,
        )
        return fixed + kept + transcript["messages"], tools, kinds

    # Tool resources

    def _resources(self, run: dict) -> list[dict]:
        assistant = self.store.get("assistant", run["assistant_id"]) or {}
        thread = self.store.get("thread", run["thread_id"]) or {}
        override = self.transcript(run["id"]).get("tool_resources") or {}
        return [assistant.get("tool_resources") or {}, thread.get("tool_resources") or {}, override]

    def code_interpreter_files(self, run: dict) -> list[dict]:
        ids: list[str] = []
        for resources in self._resources(run):
            ids += (resources.get("code_interpreter") or {}).get("file_ids", [])
        for message in self.store.all("thread.message", run["thread_id"]):
            for attachment in message.get("attachments") or []:
                if any(t["type"] == "code_interpreter" for t in attachment.get("tools", [])):
                    ids.append(attachment["file_id"])
        files = [self.store.get("file", file_id) for file_id in dict.fromkeys(ids)]
        return [f for f in files if f is not None]

    def vector_store_ids(self, run: dict) -> list[str]:
        ids: list[str] = []
        for resources in self._resources(run):
            ids += (resources.get("file_search") or {}).get("vector_store_ids", [])
        return list(dict.fromkeys(ids))

    def _file_search_options(self, run: dict) -> dict:
        for tool in run["tools"]:
            if tool["type"] == "file_search":
                return tool.get("file_search") or {}
        return {}

    def max_num_results(self, run: dict) -> int:
        return self._file_search_options(run).get("max_num_results") or 20

    def ranking_options(self, run: dict) -> dict:
        options = self._file_search_options(run).get("ranking_options") or {}
        return {
            "ranker": options.get("ranker", "default_2024_08_21"),
            "score_threshold": options.get("score_threshold", 0.0),
        }

    async def prepare_thread(self, run: dict) -> None:
        """Files attached for file_search go into the thread's own vector store before the model runs."""
        if not any(t["type"] == "file_search" for t in run["tools"]):
            return
        file_ids = []
        for message in self.store.all("thread.message", run["thread_id"]):
            for attachment in message.get("attachments") or []:
                if any(t["type"] == "file_search" for t in attachment.get("tools", [])):
                    file_ids.append(attachment["file_id"])
        if file_ids:
            await self.vector_stores.attach_to_thread(run["thread_id"], list(dict.fromkeys(file_ids)))

    # Sandbox

    async def place_files(self, run: dict) -> None:
        for found in self.code_interpreter_files(run):
            path = file_path(self.settings, found["id"])
            if path.exists():
                await self.sandbox.place(run["thread_id"], found["id"], found["filename"], path)

    async def export_sandbox_file(self, run: dict, path: str, transcript: dict) -> str | None:
        """Turn a file the code wrote under /mnt/data into a stored file (once per run and path)."""
        if path in transcript["exports"]:
            return transcript["exports"][path]
        data = await self.sandbox.read(run["thread_id"], path)
        if data is None:
            return None
        saved = save_file(self.settings, self.store, posixpath.basename(path), data, OUTPUT_PURPOSE)
        transcript["exports"][path] = saved["id"]
        return saved["id"]

    async def thread_deleted(self, thread_id: str) -> None:
        for run_id, task in list(self._tasks.items()):
            run = self.store.get("thread.run", run_id)
            if run is None or run["thread_id"] == thread_id:
                task.cancel()
        await self.sandbox.close_session(thread_id)

    def is_active(self, run: dict) -> bool:
        return run["status"] not in TERMINAL
