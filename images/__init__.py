"""Kernel image recipe and builder for the code interpreter sandbox."""
