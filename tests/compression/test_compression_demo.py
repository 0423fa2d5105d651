"""`datapredict demo --compress`: the table shows the kB sent per round; bad names are
refused before any work."""

from __future__ import annotations

import pytest

from datapredict.cli import main

P = 65 * 10  # digits' logistic regression, float64


def _kb_per_round(out: str) -> dict[str, float]:
    classification = out.split("Regression on diabetes")[0]
    rows = [line.split() for line in classification.splitlines() if line.startswith("iid ")]
    return {f"{row[1]} {row[2]}": float(row[-1]) for row in rows}


@pytest.mark.parametrize(
    ("compress", "per_push"), [(None, 8 * P), ("int8", P + 8), ("TOPK:0.01", 6 * 12)]
)
def test_the_table_shows_the_kilobytes_sent_per_round(capsys, compress, per_push):
    args = ["demo", "--rounds", "2", "--children", "4", "--split", "iid", "--quiet"]
    args += ["--merge", "average"] + ([] if compress is None else ["--compress", compress])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "kB sent/round" in out
    assert f"compression={(compress or 'none').lower()}" in out
    sent = _kb_per_round(out)
    expected = round(4 * per_push / 1e3, 1)
    assert sent == {"gradients average": expected, "model_parameters average": expected}


@pytest.mark.parametrize("value", ["int16", "topk:2", "topk:", "none"])
def test_a_bad_compression_is_refused_before_any_work(capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--compress", value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --compress: expected int8, int4 or topk:<fraction in (0, 1]>" in err
    assert repr(value) in err
