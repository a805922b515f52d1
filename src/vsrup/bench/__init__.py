"""`vsrup bench` and friends: stage timings, throughput, memory, LR/GT pairs, comparisons.

Submodules import their heavy dependencies themselves; importing this package is cheap.
"""
