"""peerkeeper's benchmarks: cold start, deployment size, API-call economy, sweep scaling.

Run with ``make bench`` (``python -m benchmarks --size tiny|small|full``). Not timed tests: CI only
runs ``tests/benchmarks/test_bench_smoke.py`` with the tiny size. Results and the machine they were
measured on are in ``docs/benchmarks.md``.
"""
