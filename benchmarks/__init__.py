"""Benchmarks of pytest-hotmess: throughput, sampler overhead, scaling, plugin cost.

Run them all with ``make bench`` (``python -m benchmarks``); see ``benchmarks/run.py``.
"""
