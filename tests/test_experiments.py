"""The ablation runner: the paper's table rows, aggregation over seeds, and a tiny end-to-end experiment."""

from __future__ import annotations

import json

import pytest
import yaml

from ffld.experiments import TABLES, Experiment, _aggregate, markdown_table


def test_tables_follow_the_paper():
    table5 = [(v.name, v.losses) for v in TABLES["table5"]]
    assert [name for name, _ in table5] == [
        "baseline",
        "L2/L2",
        "L2/L1",
        "L2/L2/L2",
        "L1/L1/L1",
        "AL/AL/AL",
        "L2/L1/AL",
    ]
    table6 = [(v.grad_low_level, v.grad_crop_location) for v in TABLES["table6"]]
    assert table6 == [(False, False), (False, True), (True, False), (True, True)]  # Table 6's row order
    overrides = TABLES["table6"][1].overrides()
    assert overrides["losses"] == ["iod_l2", "l2", "l1", "align"] and overrides["model.stages"] == 3
    assert (overrides["model.grad_low_level"], overrides["model.grad_crop_location"]) == (False, True)


def test_aggregate_mean_and_sample_std_over_seeds():
    per_seed = [{"full": [{"nme": value, "auc": 50.0, "fr": 0.0}]} for value in (4.0, 5.0, 6.0)]
    result = _aggregate(per_seed)
    assert result["seeds"] == 3
    assert result["full"][0]["nme"]["mean"] == pytest.approx(5.0)
    assert result["full"][0]["nme"]["std"] == pytest.approx(1.0)  # sample std of 4, 5, 6
    assert result["full"][0]["auc"]["std"] == 0.0


def test_tiny_experiment_end_to_end(tmp_path):
    common = {
        "data": {"dataset": "synthface", "root": str(tmp_path / "synthface"), "input_size": 64, "test": [],
                 "synthface": {"image_size": 96, "train": {"size": 32}, "common": {"size": 8},
                               "challenge": {"size": 4}}},
        "optimizer": {"batch_size": 16, "epochs": 1},
        "runtime": {"device": "cpu"},
    }  # fmt: skip
    pretrain = {**common, "model": {"stages": 0}, "losses": ["iod_l2"]}
    (tmp_path / "pretrain.yaml").write_text(yaml.safe_dump(pretrain))
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(common))
    spec = {"pretrain": str(tmp_path / "pretrain.yaml"), "finetune": str(tmp_path / "finetune.yaml"),
            "seeds": [0], "tables": ["stages"]}  # fmt: skip
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(spec))
    experiment = Experiment(str(tmp_path / "tiny.yaml"), tmp_path / "runs", tmp_path / "results")
    experiment.train_all(jobs=1, log=lambda line: None)
    assert all(experiment.is_finished(run) for run in experiment.runs())
    # Every variant started from the seed's pre-trained baseline.
    for run in experiment.runs():
        assert run.overrides["init"].endswith("seed0/pretrain/model.safetensors")
    summary = experiment.summarise(log=lambda line: None)
    assert set(summary["variants"]) == {"clean/baseline", "clean/L2", "clean/L2-L1", "clean/L2-L1-AL"}
    assert len(summary["variants"]["clean/L2-L1-AL"]["full"]) == 4  # S0..S3
    saved = json.loads((tmp_path / "results" / "tiny" / "summary.json").read_text())
    assert "provenance" in saved and saved["variants"] == json.loads(json.dumps(summary["variants"]))
    assert markdown_table("stages", summary).count("\n| ") == 1 + 4  # header and one row per variant
