"""Run events: what the engine publishes while a run moves, and their server-sent-event encoding.

The engine publishes every state change of a run (run, step, message objects and their deltas) to
the `EventHub`; a streaming request subscribes before the run starts and writes the events as SSE
until the run stops or waits for tool outputs. Non-streaming requests just read the stored objects.
"""

import asyncio
import copy
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

# Events after which a stream ends: the run or response is over, or the run waits for the client.
FINAL_EVENTS = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.incomplete",
    "thread.run.expired",
    "thread.run.requires_action",
    "response.completed",
    "response.failed",
    "response.incomplete",
    "error",
}


@dataclass(frozen=True)
class Event:
    name: str
    data: dict

    def sse(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n".encode()


DONE = b"event: done\ndata: [DONE]\n\n"


class EventHub:
    """Fan-out of run events to the streams that watch a run."""

    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def publish(self, run_id: str, event: Event) -> None:
        """Hand `event` to the run's watchers, as a snapshot: the engine keeps changing its objects."""
        watchers = self._watchers.get(run_id)
        if not watchers:
            return
        snapshot = Event(event.name, copy.deepcopy(event.data))
        for queue in watchers:
            queue.put_nowait(snapshot)

    def watch(self, run_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers[run_id].add(queue)
        return queue

    def unwatch(self, run_id: str, queue: asyncio.Queue) -> None:
        watchers = self._watchers.get(run_id)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[run_id]

    async def stream(
        self, run_id: str, queue: asyncio.Queue, first: list[Event] = ()
    ) -> AsyncIterator[bytes]:
        """SSE bytes: `first`, then the run's events until a final one, then `done`."""
        try:
            for event in first:
                yield event.sse()
            while True:
                event = await queue.get()
                yield event.sse()
                if event.name in FINAL_EVENTS:
                    break
            yield DONE
        finally:
            self.unwatch(run_id, queue)
