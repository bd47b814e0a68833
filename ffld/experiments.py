"""The paper's ablations, reproduced on SynthFace with several seeds (Tables 5 and 6, the number of stages,
and the annotation-noise question of Sect. 4.3).

Protocol (Sect. 6.6): for each seed, the baseline is pre-trained alone (IOD-normalised L2); every variant then
starts from that baseline and trains for the same number of epochs — the baseline row too, so that every row has
seen the same amount of training. Each final model is evaluated on the test splits (inter-ocular NME, AUC and
failure rate at 0.08); the summary gives mean ± standard deviation over the seeds.

An experiment file (YAML, ``ffld/configs/experiments/``) names the two training configs and the seeds::

    pretrain: synthface-cpu-baseline     # training config of the baseline phase
    finetune: synthface-cpu              # training config of every variant (its model/losses are replaced)
    seeds: [0, 1, 2]
    tables: [stages, table5, table6]
    noise: {along: 2.0, across: 2.0, variants: ["L2/L1/L1", "L2/L1/AL"]}   # optional

Runs go to ``<runs>/<experiment>/seed<S>/<variant>/`` and are resumed or skipped when already finished; summaries
go to ``<results>/<experiment>/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ffld.provenance import write_json
from ffld.train.config import CONFIG_DIR, ConfigError, load_config

EXPERIMENT_DIR = CONFIG_DIR / "experiments"
SHORT = {"L2": "l2", "L1": "l1", "AL": "align"}


@dataclass(frozen=True)
class Variant:
    """One row: the refinement stages' losses (S0 always uses IOD-normalised L2) and the gradient paths."""

    name: str
    losses: tuple[str, ...]
    grad_low_level: bool = True
    grad_crop_location: bool = True

    @property
    def slug(self) -> str:
        """A folder name for the variant."""
        base = "-".join(self.losses) if self.losses else "baseline"
        if self.grad_low_level and self.grad_crop_location:
            return base
        return f"{base}_low{int(self.grad_low_level)}_loc{int(self.grad_crop_location)}"

    def overrides(self) -> dict[str, Any]:
        """Config overrides selecting this variant."""
        return {
            "model.stages": len(self.losses),
            "losses": ["iod_l2", *(SHORT[name] for name in self.losses)],
            "model.grad_low_level": self.grad_low_level,
            "model.grad_crop_location": self.grad_crop_location,
        }


def _variant(name: str, low: bool = True, location: bool = True) -> Variant:
    return Variant(name, tuple(name.split("/")) if name != "baseline" else (), low, location)


TABLES: dict[str, list[Variant]] = {
    "stages": [_variant("baseline"), _variant("L2"), _variant("L2/L1"), _variant("L2/L1/AL")],
    "table5": [
        _variant("baseline"),
        _variant("L2/L2"),
        _variant("L2/L1"),
        _variant("L2/L2/L2"),
        _variant("L1/L1/L1"),
        _variant("AL/AL/AL"),
        _variant("L2/L1/AL"),
    ],
    "table6": [
        _variant("L2/L1/AL", low=False, location=False),
        _variant("L2/L1/AL", low=False, location=True),
        _variant("L2/L1/AL", low=True, location=False),
        _variant("L2/L1/AL"),
    ],
}
"""Rows of each table; Table 6's rows differ in (∇low_level, ∇crop_location)."""


@dataclass(frozen=True)
class Run:
    """One training run of the experiment."""

    seed: int
    variant: Variant
    folder: Path
    overrides: dict[str, Any]
    noise: str = "clean"

    @property
    def model_file(self) -> Path:
        return self.folder / "model.safetensors"


class Experiment:
    """An experiment file, its runs and their summary.

    Args:
        name: a file, or the name of a file in ``ffld/configs/experiments/``.
        runs: folder of the training runs.
        results: folder of the summaries.
    """

    def __init__(self, name: str, runs: str | os.PathLike = "runs", results: str | os.PathLike = "data/results"):
        path = Path(name) if Path(name).exists() else EXPERIMENT_DIR / f"{name}.yaml"
        if not path.exists():
            available = ", ".join(sorted(p.stem for p in EXPERIMENT_DIR.glob("*.yaml")))
            raise ConfigError(f"{name}: no such experiment file (built-in: {available})")
        self.path = path
        self.spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        unknown = set(self.spec) - {"pretrain", "finetune", "seeds", "tables", "noise"}
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        unknown_tables = set(self.spec.get("tables", [])) - set(TABLES)
        if unknown_tables:
            raise ConfigError(f"{path}: unknown table(s) {', '.join(sorted(unknown_tables))}")
        self.name = path.stem
        self.runs_dir = Path(runs) / self.name
        self.results_dir = Path(results) / self.name

    def variants(self) -> list[Variant]:
        """Every distinct variant of the experiment's tables, in first-appearance order."""
        seen: dict[str, Variant] = {}
        for table in self.spec.get("tables", []):
            for variant in TABLES[table]:
                seen.setdefault(variant.slug, variant)
        return list(seen.values())

    def pretrain_run(self, seed: int, noise: str = "clean") -> Run:
        folder = self.runs_dir / noise / f"seed{seed}" / "pretrain"
        return Run(seed, _variant("baseline"), folder, {"runtime.seed": seed, **self._noise(noise)}, noise)

    def _noise(self, noise: str) -> dict[str, Any]:
        if noise == "clean":
            return {}
        amount = self.spec["noise"][noise]
        return {"data.synthface.noise_along" if noise == "along" else "data.synthface.noise_across": amount}

    def runs(self) -> list[Run]:
        """Every fine-tuning run (clean data for the tables, noisy data for the noise study)."""
        runs = []
        for seed in self.spec["seeds"]:
            for variant in self.variants():
                runs.append(self._finetune(seed, variant, "clean"))
            for noise in ("along", "across"):
                for name in self.spec.get("noise", {}).get("variants", []):
                    runs.append(self._finetune(seed, _variant(name), noise))
        return runs

    def _finetune(self, seed: int, variant: Variant, noise: str) -> Run:
        pretrained = self.pretrain_run(seed, noise).model_file
        overrides = {**variant.overrides(), "runtime.seed": seed, "init": str(pretrained), **self._noise(noise)}
        return Run(seed, variant, self.runs_dir / noise / f"seed{seed}" / variant.slug, overrides, noise)

    def _config_name(self, run: Run) -> str:
        return self.spec["pretrain"] if run.folder.name == "pretrain" else self.spec["finetune"]

    def is_finished(self, run: Run) -> bool:
        config = load_config(self._config_name(run), {**run.overrides, "output": str(run.folder)})
        state = run.folder / "metrics.csv"
        return (
            run.model_file.exists()
            and state.exists()
            and (len(state.read_text().strip().splitlines()) - 1 >= config.optimizer.epochs)
        )

    def execute(self, run: Run, threads: int) -> None:
        """Train one run in a subprocess (resuming it if it was interrupted)."""
        if self.is_finished(run):
            return
        arguments = [sys.executable, "-m", "ffld", "train", self._config_name(run), "--output", str(run.folder)]
        for key, value in run.overrides.items():
            arguments += ["--set", f"{key}={json.dumps(value)}"]
        run.folder.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        with open(run.folder / "train.log", "a") as log:
            completed = subprocess.run(arguments, stdout=log, stderr=subprocess.STDOUT, env=environment)
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(arguments)} failed; see {run.folder / 'train.log'}")

    def train_all(self, jobs: int = 1, log: Any = print) -> None:
        """Pre-train every baseline, then every variant, ``jobs`` runs at a time (each on cores // jobs threads)."""
        threads = max(1, (os.cpu_count() or 1) // jobs)
        noises = ["clean"] + (["along", "across"] if self.spec.get("noise") else [])
        stages = [
            [self.pretrain_run(seed, noise) for seed in self.spec["seeds"] for noise in noises],
            self.runs(),
        ]
        for runs in stages:
            with ThreadPoolExecutor(jobs) as pool:
                for run in runs:
                    log(f"{run.folder}: {'done' if self.is_finished(run) else 'training'}")
                for _ in pool.map(lambda run: self.execute(run, threads), runs):
                    pass

    def summarise(self, log: Any = print) -> dict[str, Any]:
        """Evaluate every finished run and write ``summary.json`` and one Markdown table per table."""
        from ffld.evaluate import evaluate_checkpoint

        rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in self.runs():
            evaluation = run.folder / "evaluation.json"
            if not evaluation.exists():
                if not self.is_finished(run):
                    raise RuntimeError(f"{run.folder}: not trained yet (run `ffld experiment {self.name} --train`)")
                evaluate_checkpoint(
                    run.model_file, "synthface", None, ["common", "challenge", "full"], output=run.folder
                )
                os.replace(run.folder / "results.json", evaluation)
            result = json.loads(evaluation.read_text())
            rows.setdefault((run.noise, run.variant.slug), []).append(result["subsets"])
        summary = {
            "experiment": self.name,
            "spec": self.spec,
            "variants": {f"{noise}/{slug}": _aggregate(per_seed) for (noise, slug), per_seed in rows.items()},
        }
        write_json(self.results_dir / "summary.json", summary)
        for table in self.spec.get("tables", []):
            text = markdown_table(table, summary)
            (self.results_dir / f"{table}.md").write_text(text)
            log(text)
        if self.spec.get("noise"):
            text = noise_table(summary, self.spec["noise"])
            (self.results_dir / "noise.md").write_text(text)
            log(text)
        return summary


def _aggregate(per_seed: list[dict[str, list[dict[str, float]]]]) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds, per subset, stage and metric."""
    out: dict[str, Any] = {"seeds": len(per_seed)}
    for subset in per_seed[0]:
        stages = []
        for stage in range(len(per_seed[0][subset])):
            entry = {}
            for metric in ("nme", "auc", "fr"):
                values = np.array([seed[subset][stage][metric] for seed in per_seed])
                entry[metric] = {
                    "mean": float(values.mean()),
                    "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "values": values.tolist(),
                }
            stages.append(entry)
        out[subset] = stages
    return out


def _cell(entry: dict[str, Any]) -> str:
    return f"{entry['mean']:.2f} ± {entry['std']:.2f}"


def markdown_table(table: str, summary: dict[str, Any]) -> str:
    """One table of the summary: final-stage NME, AUC@0.08 and FR@0.08 (%) on common and challenge."""
    header = "| variant | ∇low | ∇loc | common NME | challenge NME | full NME | full AUC@0.08 | full FR@0.08 |"
    lines = [f"### {table} (mean ± std over seeds, %)", "", header, "|" + "---|" * 8]
    for variant in TABLES[table]:
        result = summary["variants"].get(f"clean/{variant.slug}")
        if result is None:
            continue
        final = {subset: result[subset][-1] for subset in ("common", "challenge", "full")}
        lines.append(
            f"| {variant.name} | {'✓' if variant.grad_low_level else '✗'} | "
            f"{'✓' if variant.grad_crop_location else '✗'} | {_cell(final['common']['nme'])} | "
            f"{_cell(final['challenge']['nme'])} | {_cell(final['full']['nme'])} | {_cell(final['full']['auc'])} | "
            f"{_cell(final['full']['fr'])} |"
        )
    return "\n".join(lines) + "\n"


def noise_table(summary: dict[str, Any], noise: dict[str, Any]) -> str:
    """Full-set NME against the clean landmarks, trained on annotations noisy along or across the boundaries."""
    lines = [
        f"### annotation noise (std {noise['along']} px along / {noise['across']} px across; NME on clean truth, %)",
        "",
        "| variant | clean | noise along | noise across |",
        "|---|---|---|---|",
    ]
    for name in noise["variants"]:
        slug = _variant(name).slug
        cells = []
        for condition in ("clean", "along", "across"):
            result = summary["variants"].get(f"{condition}/{slug}")
            cells.append(_cell(result["full"][-1]["nme"]) if result else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["TABLES", "Experiment", "Run", "Variant", "markdown_table", "noise_table"]
