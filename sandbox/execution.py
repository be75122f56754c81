"""`Execution`: what running one piece of code produced, collected from the kernel's messages with
per-stream caps so an output flood cannot exhaust the server."""

import base64
import re
from dataclasses import dataclass, field

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ExecutionError:
    name: str
    value: str
    traceback: list[str] = field(default_factory=list)


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    error: ExecutionError | None = None
    images: list[bytes] = field(default_factory=list)  # PNG
    files: list[str] = field(default_factory=list)  # /mnt/data paths created or changed
    timed_out: bool = False
    restarted: bool = False  # the kernel died or was restarted: earlier state is gone


class OutputCollector:
    """Builds an `Execution` from iopub messages, keeping at most `limit` characters per stream."""

    def __init__(self, limit: int):
        self.limit = limit
        self.result = Execution()
        self._dropped = {"stdout": 0, "stderr": 0}

    def _append(self, stream: str, text: str) -> None:
        current = getattr(self.result, stream)
        room = self.limit - len(current)
        if room > 0:
            setattr(self.result, stream, current + text[:room])
        self._dropped[stream] += max(0, len(text) - max(room, 0))

    def feed(self, msg: dict) -> None:
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream":
            self._append("stderr" if content.get("name") == "stderr" else "stdout", content.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            if "image/png" in data and len(self.result.images) < 20:
                self.result.images.append(base64.b64decode(data["image/png"]))
            elif kind == "execute_result" and "text/plain" in data:
                self._append("stdout", data["text/plain"] + "\n")
        elif kind == "error":
            self.result.error = ExecutionError(
                content.get("ename", "Error"),
                content.get("evalue", ""),
                [ANSI.sub("", line) for line in content.get("traceback", [])][-50:],
            )

    def finish(self) -> Execution:
        for stream, dropped in self._dropped.items():
            if dropped:
                self._append_note(stream, f"\n[output truncated: {dropped} more characters not shown]")
        return self.result

    def _append_note(self, stream: str, note: str) -> None:
        setattr(self.result, stream, getattr(self.result, stream) + note)
