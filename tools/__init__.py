"""Maintenance scripts and small helpers shared by the tests and the benchmarks."""
