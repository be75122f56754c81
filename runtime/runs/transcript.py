"""A job's transcript: its own exchanges with the model (assistant tool calls and tool results),
search sources for citations, images waiting for the next message, exported files, and what it has
used against its limits (usage, built-in tool calls). A run's is stored beside the run so it can
continue after `requires_action` or a restart; never returned by the API."""

TRANSCRIPT = "thread.run.transcript"


def new_transcript(job_id: str, tool_resources: dict) -> dict:
    return {
        "id": job_id,
        "messages": [],
        "sources": [],
        "images": [],
        "turns": 0,
        "kinds": {},
        "exports": {},
        "tool_resources": tool_resources,
        "usage": None,
        "tool_calls": 0,
    }
