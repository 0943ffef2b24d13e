"""Benchmark cells train for minutes in worker processes; the parent says, every so often, that
the benchmark is alive and how far it is."""

from __future__ import annotations

import time

from gankit.bench.engine import run_parallel


def test_parallel_cells_report_progress_on_stderr_and_results_in_call_order(capsys):
    out = list(run_parallel(time.sleep, [(0.6,), (0.1,), (0.1,)], jobs=2, heartbeat=0.2))
    assert [i for i, _ in out] == [0, 1, 2]
    err = capsys.readouterr().err
    assert "of 3 cells done" in err and "min since the start" in err


def test_in_process_cells_report_progress_and_silence_is_possible(capsys):
    list(run_parallel(time.sleep, [(0.5,)], jobs=1, heartbeat=0.1))
    assert "0 of 1 cells done, 1 training" in capsys.readouterr().err
    list(run_parallel(time.sleep, [(0.3,)], jobs=1, heartbeat=None))
    assert capsys.readouterr().err == ""
