"""``datapredict demo --secure-aggregation``."""

from __future__ import annotations

import pytest

from datapredict.cli import main


def test_the_demo_adds_a_secure_fedavg_job_as_accurate_as_fedavg(capsys):
    args = ["demo", "--rounds", "3", "--split", "iid", "--quiet", "--merge", "fedavg"]
    assert main([*args, "--secure-aggregation"]) == 0
    classification = capsys.readouterr().out.split("Regression")[0]
    rows = {
        row[2]: float(row[4])
        for row in (line.split() for line in classification.splitlines())
        if row[:2] == ["iid", "model_parameters"]
    }
    assert set(rows) == {"fedavg", "fedavg+secagg"}
    assert rows["fedavg+secagg"] == pytest.approx(rows["fedavg"], abs=1e-3)


def test_async_secure_aggregation_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--secure-aggregation", "--mode", "async"])
    assert exit_info.value.code == 2
    assert "--secure-aggregation needs --mode sync" in capsys.readouterr().err
