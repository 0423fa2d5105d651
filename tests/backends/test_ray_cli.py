"""`datapredict demo --backend ray`: the same demo on a local Ray instance."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from datapredict.cli import main

pytestmark = pytest.mark.ray


def test_demo_runs_on_ray_and_matches_inline(ray_local, capsys):
    args = ["demo", "--rounds", "2", "--children", "5", "--merge", "average", "--split", "iid"]
    assert main([*args, "--quiet", "--backend", "ray"]) == 0
    on_ray = capsys.readouterr().out
    assert main([*args, "--quiet"]) == 0
    inline = capsys.readouterr().out
    assert "backend=ray" in on_ray

    def accuracies(out):
        return [line.split()[4] for line in out.splitlines() if line.startswith("iid ")]

    assert len(accuracies(on_ray)) == 4  # gradients, average; regression: average, mean
    assert accuracies(on_ray) == accuracies(inline)  # sync mode: the same result
    assert ray_local.is_initialized()  # the shared instance is not the demo's to stop


def test_a_successful_demo_on_ray_logs_no_error():
    """As a user runs it: a fresh process, a new local Ray instance, stderr read whole."""
    options = "--backend ray --quiet --dataset iris --children 2 --rounds 1 --merge average"
    run = subprocess.run(
        [sys.executable, "-m", "datapredict.cli", "demo", *options.split(), "--split", "iid"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "backend=ray" in run.stdout
    errors = [line for line in run.stderr.splitlines() if re.match(r"\[[^]]* E \d+ \d+\]", line)]
    assert errors == []
