"""Benchmarks: ``python -m benchmarks.run`` writes docs/benchmarks.md."""
