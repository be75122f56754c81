"""A run's transcript: its own exchanges with the model (assistant tool calls and tool results),
search sources for citations, images waiting for the next message and exported files. Stored
beside the run so a run can continue after `requires_action` or a restart; never returned by the API."""

TRANSCRIPT = "thread.run.transcript"


def new_transcript(run_id: str, tool_resources: dict) -> dict:
    return {
        "id": run_id,
        "messages": [],
        "sources": [],
        "images": [],
        "turns": 0,
        "kinds": {},
        "exports": {},
        "tool_resources": tool_resources,
    }
