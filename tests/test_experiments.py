"""The ablation runner: the paper's table rows, aggregation over seeds, and a tiny end-to-end experiment."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import ffld.evaluate
import ffld.experiments
import ffld.provenance
from ffld.experiments import (
    EXPERIMENT_DIR,
    TABLES,
    Experiment,
    ExperimentError,
    _aggregate,
    markdown_table,
    noise_study,
    noise_table,
    paired_difference,
    table_rows,
)
from ffld.files import sha256_of
from ffld.train.config import ConfigError

REPOSITORY = Path(__file__).resolve().parent.parent


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


def test_table_rows_and_markdown():
    data = summary()
    rows = table_rows(data, "table6")
    assert [row["variant"].slug for row in rows] == [variant.slug for variant in TABLES["table6"]]
    assert rows[0]["seeds"] == 3
    assert rows[0]["full"]["values"] == pytest.approx([4.0, 4.01, 4.02])
    assert rows[-1]["full"]["mean"] == pytest.approx(3.71)
    text = markdown_table("table6", data, paper={rows[-1]["variant"].slug: 3.66})
    lines = text.splitlines()
    assert len(lines) == 2 + 4 and lines[0].endswith("| full NME | paper NME (300W full) |")
    # common, challenge and full NME (mean ± sample std over the 3 seeds); no paper value for this row
    assert lines[2] == "| L2/L1/AL | ✗ | ✗ | 3 | " + " | ".join(["4.01 ± 0.01"] * 3) + " | – |"
    auc, fr = (markdown_table("table6", data, metric).splitlines() for metric in ("auc", "fr"))
    assert auc[0].endswith("| full AUC@0.08 |") and auc[2].endswith(" | 60.00 ± 0.00 |")
    assert fr[2] == "| L2/L1/AL | ✗ | ✗ | 3 | " + " | ".join(["2.00 ± 0.00"] * 3) + " |"
    assert lines[-1].endswith("| 3.66 |")
    assert [row["variant"].name for row in table_rows(data, "table5")] == ["L2/L1/AL"]  # the others are missing


def test_noise_study_and_paired_differences():
    study = noise_study(summary())
    assert (study["along"], study["across"]) == (2.0, 2.0)
    assert study["rows"]["L2/L1/L1"] == {"clean": None, "along": None, "across": None}
    row = study["rows"]["L2/L1/AL"]
    assert row["clean"]["mean"] == pytest.approx(3.71) and row["along"]["mean"] == pytest.approx(5.02)
    gap = paired_difference(row["along"], row["across"])
    assert gap.mean == pytest.approx(1.0) and gap.std == pytest.approx(0.0, abs=1e-12)
    assert (gap.seeds, gap.higher) == (3, 3) and gap.interval == pytest.approx((1.0, 1.0))
    assert noise_study({"spec": {}, "variants": {}}) is None
    single = paired_difference({"values": [1.0]}, {"values": [np.float64(3.0)]})
    assert (single.mean, single.std, single.seeds, single.higher) == (2.0, 0.0, 1, 1)
    assert all(np.isnan(single.interval))
    table = noise_table(summary()).splitlines()
    assert table[2] == "| L2/L1/L1 | – | – | – | – | – | – |"
    assert table[3] == "| L2/L1/AL | 3.71 ± 0.01 | 5.02 ± 0.02 | 6.02 ± 0.02 | +1.00 ± 0.00 | +1.00 to +1.00 | 3 of 3 |"
    assert noise_table({"spec": {}, "variants": {}}) == ""


def test_paired_difference_by_hand():
    """b - a = [1, 2, 0]: mean 1, sample std 1, b higher in 2 seeds; the 95% interval is 1 ± t(0.975, 2 dof) / sqrt(3)
    with t = 4.3027 from a table of Student's t (to its 4 decimals)."""
    gap = paired_difference({"values": [1.0, 2.0, 3.0]}, {"values": [2.0, 4.0, 3.0]})
    assert (gap.mean, gap.std, gap.seeds, gap.higher) == (1.0, 1.0, 3, 2)
    half = 4.3027 / np.sqrt(3)
    assert gap.interval == pytest.approx((1.0 - half, 1.0 + half), abs=1e-4)
    assert str(gap) == "+1.00 ± 1.00 (95% CI -1.48 to +3.48; higher in 2 of 3 seeds)"


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
    table = markdown_table("stages", summary).splitlines()
    assert table[0].startswith("| variant |") and len(table) == 2 + 4  # header, rule and one row per variant


def test_training_threads_split_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    """A process allowed on 6 of a machine's 64 cores runs 3 jobs of 2 threads each (64 // 3 would crowd them)."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    threads = []
    monkeypatch.setattr(Experiment, "execute", lambda self, run, count: threads.append(count))
    spec = {"pretrain": "synthface-cpu-baseline", "finetune": "synthface-cpu", "seeds": [0], "tables": ["stages"]}
    (tmp_path / "split.yaml").write_text(yaml.safe_dump(spec))
    Experiment(str(tmp_path / "split.yaml"), tmp_path / "runs", tmp_path / "results").train_all(3, lambda line: None)
    assert threads == [2] * (1 + len(TABLES["stages"]))  # the pre-training, then one run per row


def test_noise_study_runs_include_clean_runs_missing_from_the_tables(tmp_path):
    spec = {"pretrain": "synthface-cpu-baseline", "finetune": "synthface-cpu", "seeds": [0, 1], "tables": ["stages"],
            "noise": {"along": 2.0, "across": 2.0, "variants": ["L2/L1/L1", "L2/L1/AL"]}}  # fmt: skip
    (tmp_path / "noisy.yaml").write_text(yaml.safe_dump(spec))
    experiment = Experiment(str(tmp_path / "noisy.yaml"), tmp_path / "runs", tmp_path / "results")
    runs = {(run.seed, run.noise, run.variant.slug) for run in experiment.runs()}
    expected = {(seed, "clean", variant.slug) for seed in (0, 1) for variant in TABLES["stages"]}
    expected |= {
        (seed, noise, slug) for seed in (0, 1) for noise in ("along", "across") for slug in ("L2-L1-L1", "L2-L1-AL")
    }
    expected |= {(seed, "clean", "L2-L1-L1") for seed in (0, 1)}  # L2/L1/AL's clean run is a row of "stages"
    assert runs == expected and len(experiment.runs()) == len(expected)
    noisy = [run for run in experiment.runs() if run.noise == "along"]
    assert all(run.overrides["data.synthface.noise_along"] == 2.0 for run in noisy)
    assert all(run.overrides["init"].endswith(f"along/seed{run.seed}/pretrain/model.safetensors") for run in noisy)


@pytest.mark.parametrize("name", sorted(path.stem for path in EXPERIMENT_DIR.glob("*.yaml")))
def test_built_in_experiments_resolve_every_run_config(name, tmp_path):
    """Each built-in experiment's runs load as valid configs (overrides included), at least three seeds (issue 8),
    every table row."""
    experiment = Experiment(name, tmp_path / "runs", tmp_path / "results")
    runs = experiment.runs()
    assert not any(experiment.is_finished(run) for run in runs)  # loads each run's config, overrides included
    seeds = sorted({run.seed for run in runs})
    assert seeds == list(range(len(seeds))) and len(seeds) >= 3
    rows = {variant.slug for table in experiment.spec["tables"] for variant in TABLES[table]}
    assert rows <= {run.variant.slug for run in runs if run.noise == "clean"}


GOOD = "pretrain: synthface-cpu-baseline\nfinetune: synthface-cpu"  # an experiment file's two built-in configs


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pretrain: [unclosed", "cannot read the experiment file"),
        ("- a list", "must be a mapping, got list"),
        ("pretrain: synthface-cpu-baseline\nseeds: [0]", "missing key(s) finetune"),
        ("pretrain: a\nfinetune: b\nseeds: [0]\ntables: [table9]", "unknown table(s) table9"),
        # values that failed only later, with a traceback or in a training subprocess (ffld.experiment_spec)
        (f"{GOOD}\nseeds: 3", "seeds: expected a list of distinct integers >= 0, got 3"),
        (f"{GOOD}\nseeds: [0, -1, 0]", "seeds: expected a list of distinct integers >= 0, got [0, -1, 0]"),
        ("pretrain: nope\nfinetune: synthface-cpu\nseeds: [0]", "pretrain: nope: no such config file or built-in"),
        (f"{GOOD}\nseeds: [0]\ntables: stages", "tables: expected a list of tables (stages, table5, table6)"),
        (f"{GOOD}\nseeds: [0]\nnoise: {{along: 1}}", "noise: expected a mapping of along, across and variants"),
        (
            f"{GOOD}\nseeds: [0]\nnoise: {{along: 1, across: -1, variants: [L2/L3, L2/L1/AL/AL]}}",
            "noise.across: expected a number >= 0 (pixels), got -1; noise.variants: expected a list of refinement "
            "losses such as 'L2/L1/AL' (1 to 3 of L2, L1, AL); got 'L2/L3', 'L2/L1/AL/AL'",
        ),
    ],
)
def test_experiment_files_are_checked(tmp_path, text, problem):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'bad.yaml'}: ") + ".*" + re.escape(problem)):
        Experiment(str(tmp_path / "bad.yaml"))


def _finished_experiment(folder) -> Experiment:
    """A one-seed "stages" experiment whose runs look trained (a model file, one epoch logged), on CUDA."""
    config = {"optimizer": {"epochs": 1}, "runtime": {"device": "cuda"}}
    (folder / "train.yaml").write_text(yaml.safe_dump(config))
    spec = {"pretrain": str(folder / "train.yaml"), "finetune": str(folder / "train.yaml"), "seeds": [0],
            "tables": ["stages"]}  # fmt: skip
    (folder / "tiny.yaml").write_text(yaml.safe_dump(spec))
    experiment = Experiment(str(folder / "tiny.yaml"), folder / "runs", folder / "results")
    for run in experiment.runs():
        run.folder.mkdir(parents=True)
        run.model_file.touch()
        (run.folder / "metrics.csv").write_text("epoch\n1\n")
    return experiment


def test_summarise_evaluates_on_the_device_of_the_runs_config(tmp_path, monkeypatch):
    """Runs are evaluated on the device their config chooses (the end-to-end test above: its CPU runs on the CPU),
    which summary.json records; an evaluation is reused while it scored the run's current model file, and a run
    short of the configured epochs is refused even if it was evaluated before."""
    experiment = _finished_experiment(tmp_path)
    evaluated = []

    def evaluate(checkpoint, dataset, root, splits, device, output):
        evaluated.append((checkpoint, device))
        result = {"checkpoint_sha256": sha256_of(checkpoint), "subsets": per_seed(4.0)}
        (output / "results.json").write_text(json.dumps(result))

    monkeypatch.setattr(ffld.experiments, "choose_device", lambda name: f"the device chosen for {name!r}")
    monkeypatch.setattr(ffld.provenance, "device_description", lambda device: f"described: {device}")
    monkeypatch.setattr(ffld.evaluate, "evaluate_checkpoint", evaluate)
    summary = experiment.summarise(log=lambda line: None)
    assert [device for _, device in evaluated] == ["the device chosen for 'cuda'"] * 4 and len(summary["variants"]) == 4
    saved = json.loads((tmp_path / "results" / "tiny" / "summary.json").read_text())
    assert saved["provenance"]["device"] == "described: the device chosen for 'cuda'"

    evaluated.clear()
    experiment.summarise(log=lambda line: None)
    assert evaluated == []  # every evaluation is of the current model file
    trained_further = experiment.runs()[1]
    trained_further.model_file.write_bytes(b"other weights")
    experiment.summarise(log=lambda line: None)
    assert [checkpoint for checkpoint, _ in evaluated] == [trained_further.model_file]

    (trained_further.folder / "metrics.csv").write_text("epoch\n")  # no epoch logged: not trained to 1 epoch
    with pytest.raises(ExperimentError, match=re.escape(f"{trained_further.folder}: not trained yet")):
        experiment.summarise(log=lambda line: None)


def _processes_mentioning(text: str) -> list[int]:
    """PIDs of the live processes whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:  # the process ended while being read
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds processes through Linux's /proc")
def test_a_terminated_experiment_terminates_its_training_runs(tmp_path):
    """`kill` (SIGTERM) of `ffld experiment --train` must not leave its `ffld train` processes running: a second
    experiment started on the same folders would then train beside them."""
    config = {
        "data": {"dataset": "synthface", "root": str(tmp_path / "synthface"), "input_size": 64, "test": [],
                 "synthface": {"image_size": 96, "train": {"size": 32}, "common": {"size": 4},
                               "challenge": {"size": 4}}},
        "model": {"stages": 0}, "losses": ["iod_l2"],
        "optimizer": {"batch_size": 16, "epochs": 1000},
        "runtime": {"device": "cpu"},
    }  # fmt: skip
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    spec = {"pretrain": str(tmp_path / "train.yaml"), "finetune": str(tmp_path / "train.yaml"), "seeds": [0, 1],
            "tables": ["stages"]}  # fmt: skip
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(spec))
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "ffld", "experiment", str(tmp_path / "slow.yaml"), "--train", "--jobs", "2",
               "--runs", str(runs), "--results", str(tmp_path / "results")]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        deadline = time.monotonic() + 120
        while len([pid for pid in _processes_mentioning(str(runs)) if pid != parent.pid]) < 2:
            assert parent.poll() is None and time.monotonic() < deadline, "the two training runs did not start"
            time.sleep(0.2)
        parent.send_signal(signal.SIGTERM)
        _, stderr = parent.communicate(timeout=60)
    finally:
        parent.kill()
    deadline = time.monotonic() + 20
    while _processes_mentioning(str(runs)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_mentioning(str(runs))
    for pid in left:  # a failing test leaves no 1000-epoch trainer behind
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert parent.returncode == 130 and "interrupted; the same command resumes" in stderr
