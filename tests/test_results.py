"""ffld.results: committed result files, read with their provenance, and the ablation summaries' tables."""

import json

import numpy as np
import pytest

from ffld.experiments import TABLES, _aggregate
from ffld.provenance import write_json
from ffld.results import (
    ablation_table,
    availability,
    evaluation_lines,
    find_results,
    model_path,
    model_provenance,
    noise_study,
    paired_difference,
    read_result,
    table_rows,
)


def per_seed(nme: float) -> dict:
    """One seed's evaluation (subset -> per-stage rows) with final-stage NME ``nme``."""
    rows = [{"stage": 0, "nme": nme + 1.0, "auc": 50.0, "fr": 5.0}, {"stage": 1, "nme": nme, "auc": 60.0, "fr": 2.0}]
    return {subset: rows for subset in ("common", "challenge", "full")}


def summary() -> dict:
    """An experiment summary in the format of ``Experiment.summarise`` (3 seeds, Table 6 and the noise runs)."""
    variants = {}
    for index, variant in enumerate(TABLES["table6"]):
        variants[f"clean/{variant.slug}"] = _aggregate([per_seed(4.0 - 0.1 * index + 0.01 * s) for s in range(3)])
    for condition, base in (("along", 5.0), ("across", 6.0)):
        variants[f"{condition}/L2-L1-AL"] = _aggregate([per_seed(base + 0.02 * s) for s in range(3)])
    spec = {"seeds": [0, 1, 2], "noise": {"along": 2.0, "across": 2.0, "variants": ["L2/L1/L1", "L2/L1/AL"]}}
    return {"experiment": "test", "spec": spec, "variants": variants}


def test_absent_files_are_reported_not_raised(tmp_path):
    assert read_result("data/results/nothing.json", tmp_path) is None
    assert find_results("data/results/gpu/*.json", tmp_path) == []
    assert availability("data/results/gpu/bench*.json", tmp_path) == (
        "data/results/gpu/bench*.json: absent (no such result is committed)"
    )
    with pytest.raises(FileNotFoundError, match=r"data/models/missing\.safetensors is not committed"):
        model_path("missing", tmp_path)


def test_results_are_read_with_their_provenance(tmp_path):
    write_json(tmp_path / "data/results/gpu/a/results.json", {"threshold": 0.08, "subsets": {"full": [
        {"stage": 0, "nme": 5.0, "auc": 40.0, "fr": 3.0}]}})  # fmt: skip
    result = read_result("data/results/gpu/a/results.json", tmp_path)
    assert "provenance" not in result.data and {"command", "commit", "device", "date"} <= set(result.provenance)
    line = result.describe()
    assert line.startswith("data/results/gpu/a/results.json: `") and result.provenance["date"] in line
    assert [found.path for found in find_results("data/results/gpu/*/results.json", tmp_path)] == [result.path]
    assert availability("data/results/gpu/*/results.json", tmp_path) == line
    assert evaluation_lines(result) == ["      full S0: NME 5.00%, AUC@0.08 40.00%, FR@0.08 3.00%"]


def test_a_file_without_provenance_says_so(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"x": 1}))
    assert read_result("r.json", tmp_path).describe() == "r.json: no provenance record"


def test_table_rows_and_markdown():
    data = summary()
    rows = table_rows(data, "table6")
    assert [row["variant"].slug for row in rows] == [variant.slug for variant in TABLES["table6"]]
    assert rows[0]["seeds"] == 3
    assert rows[0]["full"]["values"] == pytest.approx([4.0, 4.01, 4.02])
    assert rows[-1]["full"]["mean"] == pytest.approx(3.71)
    text = ablation_table(data, "table6", {rows[-1]["variant"].slug: 3.66})
    lines = text.splitlines()
    assert len(lines) == 2 + 4 and lines[0].endswith("paper (300W full) |")
    assert lines[2].startswith("| L2/L1/AL | ✗ | ✗ | 3 | 4.01 ± 0.01 |") and lines[2].endswith("| – |")
    assert lines[-1].endswith("| 3.66 |")
    assert [row["variant"].name for row in table_rows(data, "table5")] == ["L2/L1/AL"]  # the others are missing


def test_noise_study_and_paired_differences():
    study = noise_study(summary())
    assert (study["along"], study["across"]) == (2.0, 2.0)
    assert study["rows"]["L2/L1/L1"] == {"clean": None, "along": None, "across": None}
    row = study["rows"]["L2/L1/AL"]
    assert row["clean"]["mean"] == pytest.approx(3.71) and row["along"]["mean"] == pytest.approx(5.02)
    mean, spread = paired_difference(row["along"], row["across"])
    assert mean == pytest.approx(1.0) and spread == pytest.approx(0.0, abs=1e-12)
    assert noise_study({"spec": {}, "variants": {}}) is None
    assert paired_difference({"values": [1.0]}, {"values": [np.float64(3.0)]}) == (2.0, 0.0)


def test_model_provenance_checks_the_documented_digest(tmp_path):
    import hashlib

    from ffld.checkpoint import save_model
    from ffld.models import FFLD

    path = tmp_path / "data/models/m.safetensors"
    save_model(path, FFLD(5, stages=0), {"model": {"num_landmarks": 5, "stages": 0}})
    assert model_provenance("m", tmp_path).endswith("not listed in data/models/README.md")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "data/models/README.md").write_text(f"m: `{digest}`\n")
    assert model_provenance("m", tmp_path) == (
        f"data/models/m.safetensors: sha256 {digest[:12]}…, documented in data/models/README.md"
    )
