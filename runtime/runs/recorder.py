"""Writes a run's progress: every change to the run, its steps and its messages is stored and
published as the matching stream event, in OpenAI's order."""

from runtime.ids import new_id, now
from runtime.runs.events import Event, EventHub
from runtime.store import Store

TERMINAL = {"completed", "failed", "cancelled", "incomplete", "expired"}


def empty_usage() -> dict:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def add_usage(total: dict | None, usage: dict | None) -> dict:
    total = dict(total or empty_usage())
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        total[key] += (usage or {}).get(key, 0)
    return total


class RunRecorder:
    """Stores and announces one run's objects."""

    def __init__(self, store: Store, hub: EventHub, run: dict):
        self.store, self.hub, self.run = store, hub, run

    @property
    def run_id(self) -> str:
        return self.run["id"]

    def emit(self, name: str, data: dict) -> None:
        self.hub.publish(self.run_id, Event(name, data))

    def reload(self) -> dict:
        self.run = self.store.get("thread.run", self.run_id, parent=self.run["thread_id"]) or self.run
        return self.run

    def set_run(self, status: str | None = None, **changes) -> dict:
        run = self.reload()
        if status:
            run["status"] = status
            stamp = {
                "in_progress": "started_at",
                "completed": "completed_at",
                "failed": "failed_at",
                "cancelled": "cancelled_at",
            }.get(status)
            if stamp and not (status == "in_progress" and run.get("started_at")):
                run[stamp] = now()
            if status != "requires_action":
                run["required_action"] = None
        run.update(changes)
        self.store.put("thread.run", run, parent=run["thread_id"])
        self.run = run
        if status:
            self.emit(f"thread.run.{status}", run)
        return run

    # Steps

    def new_step(self, step_type: str, details: dict) -> dict:
        step = {
            "id": new_id("thread.run.step"),
            "object": "thread.run.step",
            "created_at": now(),
            "run_id": self.run_id,
            "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"],
            "type": step_type,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
            "metadata": {},
        }
        self.store.insert("thread.run.step", step, parent=self.run_id)
        self.emit("thread.run.step.created", step)
        self.emit("thread.run.step.in_progress", step)
        return step

    def step_delta(self, step: dict, details_delta: dict) -> None:
        self.emit(
            "thread.run.step.delta",
            {"id": step["id"], "object": "thread.run.step.delta", "delta": {"step_details": details_delta}},
        )

    def save_step(self, step: dict) -> dict:
        self.store.put("thread.run.step", step, parent=self.run_id)
        return step

    def end_step(self, step: dict, status: str, last_error: dict | None = None) -> dict:
        step["status"] = status
        stamp = {
            "completed": "completed_at",
            "failed": "failed_at",
            "cancelled": "cancelled_at",
            "expired": "expired_at",
        }[status]
        step[stamp] = now()
        step["last_error"] = last_error
        self.save_step(step)
        self.emit(f"thread.run.step.{status}", step)
        return step

    def open_steps(self) -> list[dict]:
        return [s for s in self.store.all("thread.run.step", self.run_id) if s["status"] == "in_progress"]

    # Messages

    def new_message(self, content: list[dict]) -> dict:
        message = {
            "id": new_id("thread.message"),
            "object": "thread.message",
            "created_at": now(),
            "thread_id": self.run["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": content,
            "assistant_id": self.run["assistant_id"],
            "run_id": self.run_id,
            "attachments": [],
            "metadata": {},
        }
        self.store.insert("thread.message", message, parent=self.run["thread_id"])
        self.emit("thread.message.created", message)
        self.emit("thread.message.in_progress", message)
        return message

    def message_delta(self, message: dict, index: int, text: str) -> None:
        self.emit(
            "thread.message.delta",
            {
                "id": message["id"],
                "object": "thread.message.delta",
                "delta": {
                    "content": [{"index": index, "type": "text", "text": {"value": text, "annotations": []}}]
                },
            },
        )

    def save_message(self, message: dict) -> dict:
        self.store.put("thread.message", message, parent=self.run["thread_id"])
        return message

    def end_message(self, message: dict, status: str, reason: str | None = None) -> dict:
        message["status"] = status
        if status == "completed":
            message["completed_at"] = now()
        else:
            message["incomplete_at"] = now()
            message["incomplete_details"] = {"reason": reason}
        self.save_message(message)
        self.emit(f"thread.message.{status}", message)
        return message

    def open_messages(self) -> list[dict]:
        return self.store.all(
            "thread.message", self.run["thread_id"], where={"run_id": self.run_id, "status": "in_progress"}
        )

    def stop_open_work(self, step_status: str, message_reason: str) -> None:
        """Close steps and messages left open when a run ends early."""
        for step in self.open_steps():
            self.end_step(step, step_status)
        for message in self.open_messages():
            self.end_message(message, "incomplete", message_reason)
