"""Benchmarks: each bench_*.py module runs standalone and prints its figures."""
