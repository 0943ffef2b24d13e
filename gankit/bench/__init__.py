"""Benchmark suites run in one command: `gankit bench SUITE` (suites, runner, tables)."""
