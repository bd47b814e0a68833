"""ffld.results: committed result files and models, read with their provenance."""

import json

import pytest

from ffld.provenance import write_json
from ffld.results import (
    BOOK_MODELS,
    availability,
    evaluation_lines,
    find_results,
    model_path,
    model_provenance,
    read_result,
)


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
    assert evaluation_lines(result.data) == ["      full S0: NME 5.00%, AUC@0.08 40.00%, FR@0.08 3.00%"]


@pytest.mark.parametrize(
    ("commit", "shown"),
    [
        ("0123456789abcdef0123456789abcdef01234567", "0123456789"),
        ("0123456789abcdef0123456789abcdef01234567+dirty", "0123456789+dirty"),
        ("0123456789abcdef0123456789abcdef01234567 (FFLD_COMMIT)", "0123456789 (FFLD_COMMIT)"),
        ("unknown", "unknown"),
    ],
)
def test_the_commit_is_shortened_keeping_what_marks_it(tmp_path, commit, shown):
    record = {"command": "ffld bench", "commit": commit, "device": "GPU", "date": "2026-12-07"}
    (tmp_path / "r.json").write_text(json.dumps({"provenance": record}))
    assert read_result("r.json", tmp_path).describe() == f"r.json: `ffld bench` at commit {shown}, on GPU, 2026-12-07"


def test_a_file_without_provenance_says_so(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"x": 1}))
    assert read_result("r.json", tmp_path).describe() == "r.json: no provenance record"


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


LOSSES = {
    "baseline": ["iod_l2"],
    "ffld": ["iod_l2", "l2", "l1", "align"],
    "ffld_without_align": ["iod_l2", "l2", "l1", "l1"],
}


@pytest.mark.parametrize("key", sorted(BOOK_MODELS))
def test_the_book_models_are_committed_documented_and_what_their_names_say(key):
    from ffld.checkpoint import read_metadata

    assert "documented in data/models/README.md" in model_provenance(BOOK_MODELS[key])
    config = read_metadata(model_path(BOOK_MODELS[key]))["config"]
    assert config["losses"] == LOSSES[key] and config["model"]["stages"] == len(LOSSES[key]) - 1
    assert config["runtime"]["seed"] == 0 and config["init"].endswith("seed0/pretrain/model.safetensors")
