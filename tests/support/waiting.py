"""Waiting in tests for what another process does, with a deadline."""

import time


def wait_for(check, seconds: float, what: str):
    """`check()`'s first true value, asked every 50 ms; fails with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found
