"""An `AssistantEventHandler` (the official Python SDK's stream helper) that writes down every
callback it gets, in order, with its arguments as they were at that moment."""

from openai import AssistantEventHandler

CALLBACKS = (
    "run_step_created",
    "run_step_delta",
    "run_step_done",
    "tool_call_created",
    "tool_call_delta",
    "tool_call_done",
    "message_created",
    "message_delta",
    "message_done",
    "text_created",
    "text_delta",
    "text_done",
    "image_file_done",
    "exception",
    "timeout",
    "end",
)

# The callbacks of an answer streamed as text, from its step's creation to its step's end.
TEXT_ANSWER = [
    "run_step_created",
    "message_created",
    "text_created",
    "text_delta",
    "text_done",
    "message_done",
    "run_step_done",
]


def _dump(value):
    return value.model_dump(exclude_unset=True) if hasattr(value, "model_dump") else value


class CallbackLog(AssistantEventHandler):
    """`log` holds (callback name without `on_`, [arguments]) for every callback but `on_event`."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, list]] = []
        for name in CALLBACKS:
            setattr(self, f"on_{name}", self._writer(name))

    def _writer(self, name: str):
        def write(*args) -> None:
            self.log.append((name, [_dump(a) for a in args]))

        return write

    def names(self, hide: tuple[str, ...] = ("message_delta", "run_step_delta")) -> list[str]:
        """The callbacks in order but the hidden ones, a run of the same delta callback once."""
        out: list[str] = []
        for name, _ in self.log:
            if name not in hide and not (out and out[-1] == name and name.endswith("_delta")):
                out.append(name)
        return out

    def args(self, name: str) -> list[list]:
        return [args for called, args in self.log if called == name]
