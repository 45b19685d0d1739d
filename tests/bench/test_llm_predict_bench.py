"""The emotion-LLM benchmark is a documented command: it must keep running on a CPU and print its table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_llm_bench_runs_on_cpu_and_prints_every_row_it_was_asked_for():
    rows = "generate-dynamic,cluelab-dynamic,cluelab-static"
    result = subprocess.run(
        [sys.executable, "bench/llm_predict.py", "--clips", "4", "--batch", "2", "--new-tokens", "16", "--repeat", "1",
         "--prepare-workers", "2", "--rows", rows],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout.split("x best generate", 1)[1]
    for name in ("transformers generate, dynamic cache", "ClueLab predict, dynamic cache", "ClueLab predict, static cache"):
        line = next(line for line in table.splitlines() if line.startswith(name))
        assert "failed" not in line, line
        assert float(line[44:].split()[1]) > 0  # clips/s
    assert "transformers generate, static cache" not in table  # not asked for
    assert "preparing media, 2 thread(s)" in result.stdout
    assert "cache allocations 1, static cache positions" in result.stdout
