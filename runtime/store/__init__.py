"""Persistence for API objects."""

from runtime.store.db import Store, Tx

__all__ = ["Store", "Tx"]
