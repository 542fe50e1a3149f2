"""Benchmarks (``make bench`` runs them all): each starts what it measures on free ports and
prints throughput and p50/p99 latency, with the ceiling it is compared against where one exists."""
