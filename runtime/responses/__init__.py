"""The Responses and Conversations surface on the shared run engine: requests become responses
driven by the run loop, whose happenings become output items and `response.*` events."""

from runtime.responses.service import Responses

__all__ = ["Responses"]
