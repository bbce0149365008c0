"""Benchmarks and synthetic workloads for gumshoe (run with `python -m bench.<module>`)."""
