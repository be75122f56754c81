"""Test helpers: a real assistd server process and a scripted chat-completions model."""
