"""Benchmarks of the refresh at organisation scale; see docs/benchmarks.md."""
