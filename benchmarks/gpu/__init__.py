"""The GPU check's pieces: its parts (cuda_tests, throughput, small_mlp, recipes), what they
share (common), the scheduler that runs each in its own process within the budget (schedule) and
the report that writes their numbers into BENCHMARKS.md and docs/speed.md (report). The command
is benchmarks/gpu_check.py.
"""
