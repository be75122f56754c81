"""Figures the benchmarks print: percentiles of durations, formatted in milliseconds."""

import statistics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:7.1f} ms"


def p50_p95(values: list[float]) -> str:
    """`p50 … ms  p95 … ms` for a list of durations in seconds."""
    return f"p50 {ms(statistics.median(values))}  p95 {ms(percentile(values, 0.95))}"
