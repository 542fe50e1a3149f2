"""What every benchmark prints: throughput and p50/p99 latency, one JSON line a result."""

from __future__ import annotations


def percentile(samples: list[float], share: float) -> float:
    """The ``share`` quantile (0..1) of ``samples`` by nearest rank."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def summary(name: str, count: int, seconds: float, latencies: list[float]) -> dict:
    """One result line: throughput and latency percentiles in milliseconds."""
    return {
        "benchmark": name,
        "count": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1) if seconds else None,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
    }
