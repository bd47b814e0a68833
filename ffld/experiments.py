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
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import yaml

from ffld.cpus import usable_cpus
from ffld.experiment_spec import spec_problems
from ffld.files import sha256_of
from ffld.provenance import write_json
from ffld.tables import markdown
from ffld.train.config import CONFIG_DIR, ConfigError, TrainConfig, load_config
from ffld.train.distributed import choose_device

EXPERIMENT_DIR = CONFIG_DIR / "experiments"
SHORT = {"L2": "l2", "L1": "l1", "AL": "align"}


class ExperimentError(RuntimeError):
    """A run of an experiment that failed or is not trained yet; the message names its folder."""


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


def _read_spec(path: Path) -> dict[str, Any]:
    """An experiment file's content, checked: a mapping with the required keys, no unknown key, and values that
    :func:`~ffld.experiment_spec.spec_problems` accepts."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the experiment file ({error})") from error
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: the experiment file must be a mapping, got {type(spec).__name__}")
    required = {"pretrain", "finetune", "seeds"}
    missing = required - set(spec)
    if missing:
        raise ConfigError(f"{path}: missing key(s) {', '.join(sorted(missing))}")
    unknown = set(spec) - required - {"tables", "noise"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    problems = spec_problems(spec, list(TABLES), list(SHORT))
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return spec


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
        """The run's inference model, ``<folder>/model.safetensors``."""
        return self.folder / "model.safetensors"


class Experiment:
    """An experiment file, its runs and their summary.

    Args:
        name: a file, or the name of a file in ``ffld/configs/experiments/``.
        runs: folder of the training runs.
        results: folder of the summaries.
    """

    def __init__(self, name: str, runs: str | os.PathLike = "runs", results: str | os.PathLike = "data/results"):
        path = Path(name) if Path(name).is_file() else EXPERIMENT_DIR / f"{name}.yaml"
        if not path.is_file():
            available = ", ".join(sorted(p.stem for p in EXPERIMENT_DIR.glob("*.yaml")))
            raise ConfigError(f"{name}: no such experiment file (built-in: {available})")
        self.path = path
        self.spec = _read_spec(path)
        self.name = path.stem
        self.runs_root, self.results_root = Path(runs), Path(results)
        self.runs_dir = Path(runs) / self.name
        self.results_dir = Path(results) / self.name
        self._training: set[subprocess.Popen] = set()  # the `ffld train` processes running now
        self._stopping = False
        self._lock = threading.Lock()

    def variants(self) -> list[Variant]:
        """Every distinct variant of the experiment's tables, in first-appearance order."""
        seen: dict[str, Variant] = {}
        for table in self.spec.get("tables", []):
            for variant in TABLES[table]:
                seen.setdefault(variant.slug, variant)
        return list(seen.values())

    def pretrain_run(self, seed: int, noise: str = "clean") -> Run:
        """The baseline pre-training run (Sect. 6.6, step 1) that the seed's refined variants start from."""
        folder = self.runs_dir / noise / f"seed{seed}" / "pretrain"
        return Run(seed, _variant("baseline"), folder, {"runtime.seed": seed, **self._noise(noise)}, noise)

    def _noise(self, noise: str) -> dict[str, Any]:
        if noise == "clean":
            return {}
        amount = self.spec["noise"][noise]
        return {"data.synthface.noise_along" if noise == "along" else "data.synthface.noise_across": amount}

    def runs(self) -> list[Run]:
        """Every fine-tuning run: clean data for the tables; for the noise study, each of its variants on data with
        noise along and across the boundaries, and on clean data if no table has it."""
        runs = []
        in_tables = {variant.slug for variant in self.variants()}
        for seed in self.spec["seeds"]:
            for variant in self.variants():
                runs.append(self._finetune(seed, variant, "clean"))
            for name in self.spec.get("noise", {}).get("variants", []):
                variant = _variant(name)
                for noise in ("clean", "along", "across"):
                    if noise != "clean" or variant.slug not in in_tables:
                        runs.append(self._finetune(seed, variant, noise))
        return runs

    def _finetune(self, seed: int, variant: Variant, noise: str) -> Run:
        pretrained = self.pretrain_run(seed, noise).model_file
        overrides = {**variant.overrides(), "runtime.seed": seed, "init": str(pretrained), **self._noise(noise)}
        return Run(seed, variant, self.runs_dir / noise / f"seed{seed}" / variant.slug, overrides, noise)

    def _config_name(self, run: Run) -> str:
        return self.spec["pretrain"] if run.folder.name == "pretrain" else self.spec["finetune"]

    def config(self, run: Run) -> TrainConfig:
        """The training config of a run, its overrides applied."""
        return load_config(self._config_name(run), {**run.overrides, "output": str(run.folder)})

    def is_finished(self, run: Run) -> bool:
        """Whether the run wrote its model file and logged every configured epoch."""
        state = run.folder / "metrics.csv"
        return (
            run.model_file.exists()
            and state.exists()
            and (len(state.read_text().strip().splitlines()) - 1 >= self.config(run).optimizer.epochs)
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
        log = run.folder / "train.log"
        with open(log, "a") as handle:
            with self._lock:
                if self._stopping:
                    raise ExperimentError(f"{run.folder}: not started, the experiment is stopping")
                process = subprocess.Popen(arguments, stdout=handle, stderr=subprocess.STDOUT, env=environment)
                self._training.add(process)
            try:
                status = process.wait()
            finally:
                with self._lock:
                    self._training.discard(process)
        if status != 0:
            raise ExperimentError(f"{run.folder}: training failed (exit status {status}: {_last_line(log)}); see {log}")

    def _stop_training(self) -> None:
        """Terminate the running `ffld train` processes and start no more (they resume from their checkpoints)."""
        with self._lock:
            self._stopping = True
            for process in self._training:
                process.terminate()

    def train_all(self, jobs: int = 1, log: Any = print) -> None:
        """Pre-train every baseline, then every variant, ``jobs`` runs at a time (each on cores // jobs threads).

        If a run fails or this process is interrupted (Ctrl-C; ``ffld experiment`` turns SIGTERM into the same),
        the runs under way are terminated before the error propagates, so that none trains on unattended; running
        the command again resumes each from its last checkpoint."""
        threads = max(1, usable_cpus() // jobs)
        noises = ["clean"] + (["along", "across"] if self.spec.get("noise") else [])
        stages = [
            [self.pretrain_run(seed, noise) for seed in self.spec["seeds"] for noise in noises],
            self.runs(),
        ]
        for runs in stages:
            with ThreadPoolExecutor(jobs) as pool:
                for run in runs:
                    log(f"{run.folder}: {'done' if self.is_finished(run) else 'training'}")
                try:
                    for _ in pool.map(lambda run: self.execute(run, threads), runs):
                        pass
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._stop_training()
                    raise

    def summarise(self, log: Any = print) -> dict[str, Any]:
        """Evaluate every run and write ``summary.json`` and one Markdown table per table.

        A run's ``evaluation.json`` is reused only while it scored the run's current model file (its SHA-256), so a
        run trained further is evaluated again. Raises :class:`ExperimentError` for a run not trained to the
        configured number of epochs."""
        from ffld.evaluate import evaluate_checkpoint

        rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        device = choose_device(load_config(self.spec["finetune"]).runtime.device)
        for run in self.runs():
            if not self.is_finished(run):
                folders = f"--runs {self.runs_root} --results {self.results_root}"
                command = f"ffld experiment {self.path} --train {folders}"
                raise ExperimentError(f"{run.folder}: not trained yet (run `{command}`)")
            evaluation = run.folder / "evaluation.json"
            result = json.loads(evaluation.read_text()) if evaluation.exists() else {}
            if result.get("checkpoint_sha256") != sha256_of(run.model_file):  # none yet, or of an older model file
                evaluate_checkpoint(
                    run.model_file, "synthface", None, ["common", "challenge", "full"], device, output=run.folder
                )
                os.replace(run.folder / "results.json", evaluation)
                result = json.loads(evaluation.read_text())
            rows.setdefault((run.noise, run.variant.slug), []).append(result["subsets"])
        summary = {
            "experiment": self.name,
            "spec": self.spec,
            "variants": {f"{noise}/{slug}": _aggregate(per_seed) for (noise, slug), per_seed in rows.items()},
        }
        write_json(self.results_dir / "summary.json", summary, device)
        for table in self.spec.get("tables", []):
            text = "\n".join(
                f"### {table}: {label} of the final stage (mean ± std over seeds, %)\n\n"
                + markdown_table(table, summary, metric)
                for metric, label in METRICS.items()
            )
            (self.results_dir / f"{table}.md").write_text(text)
            log(text)
        if self.spec.get("noise"):
            noise = self.spec["noise"]
            text = (
                f"### annotation noise (std {noise['along']} px along / {noise['across']} px across; "
                "full-set NME against the exact landmarks of test splits without annotation noise, %)\n\n"
                + noise_table(summary)
            )
            (self.results_dir / "noise.md").write_text(text)
            log(text)
        return summary


def _last_line(path: Path) -> str:
    """The last non-blank line of a text file (a failed command's error message)."""
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "nothing logged"


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


def variant_result(summary: dict[str, Any], variant: Variant, condition: str = "clean") -> dict[str, Any] | None:
    """The aggregated result of one variant (``summary["variants"]["<condition>/<slug>"]``), or ``None``."""
    return summary["variants"].get(f"{condition}/{variant.slug}")


def final_stage(result: dict[str, Any], subset: str, metric: str = "nme") -> dict[str, Any]:
    """``{"mean", "std", "values"}`` of the last stage of a variant on a subset (metric: nme, auc or fr, in %)."""
    return result[subset][-1][metric]


def table_rows(
    summary: dict[str, Any],
    table: str,
    subsets: tuple[str, ...] = ("common", "challenge", "full"),
    metric: str = "nme",
    condition: str = "clean",
) -> list[dict[str, Any]]:
    """The rows of one table of a summary (:data:`TABLES`), in table order.

    Each row: ``variant`` (:class:`Variant`), ``seeds``, and per subset the final stage's
    ``{"mean", "std", "values"}``; variants missing from the summary are left out.
    """
    rows = []
    for variant in TABLES[table]:
        result = variant_result(summary, variant, condition)
        if result is None:
            continue
        row: dict[str, Any] = {"variant": variant, "seeds": result["seeds"]}
        row.update({subset: final_stage(result, subset, metric) for subset in subsets})
        rows.append(row)
    return rows


def mean_std(entry: dict[str, Any]) -> str:
    """``"mean ± std"`` with two decimals."""
    return f"{entry['mean']:.2f} ± {entry['std']:.2f}"


METRICS = {"nme": "NME", "auc": "AUC@0.08", "fr": "FR@0.08"}
"""The metrics of a summary (in %): inter-ocular NME, and AUC and failure rate at SynthFace's threshold."""


def markdown_table(
    table: str, summary: dict[str, Any], metric: str = "nme", paper: dict[str, float] | None = None
) -> str:
    """One table of a summary in Markdown: the gradient paths, the seeds, and one metric of the final stage on
    common, challenge and full (mean ± std over seeds, %).

    Args:
        table: a key of :data:`TABLES`.
        summary: what :meth:`Experiment.summarise` returns (or its ``summary.json``).
        metric: a key of :data:`METRICS`.
        paper: variant slug -> the paper's NME (300W full set), shown in a last column.
    """
    subsets = ("common", "challenge", "full")
    header = ["variant", "∇low", "∇loc", "seeds", *(f"{s} {METRICS[metric]}" for s in subsets)]
    rows = []
    for row in table_rows(summary, table, subsets, metric):
        variant = row["variant"]
        cells = [variant.name, "✓" if variant.grad_low_level else "✗", "✓" if variant.grad_crop_location else "✗"]
        cells += [str(row["seeds"]), *(mean_std(row[subset]) for subset in subsets)]
        if paper:
            cells.append(f"{paper[variant.slug]:.2f}" if variant.slug in paper else "–")
        rows.append(cells)
    return markdown(header + (["paper NME (300W full)"] if paper else []), rows) + "\n"


def noise_study(summary: dict[str, Any], subset: str = "full") -> dict[str, Any] | None:
    """The annotation-noise runs of a summary, or ``None`` if it has none.

    Returns:
        ``{"along", "across"}`` (the noise's standard deviations, px) and ``"rows"``: variant name -> condition
        ("clean", "along", "across") -> the final stage's NME entry on ``subset`` (``None`` where not trained).
    """
    spec = summary.get("spec", {}).get("noise")
    if not spec:
        return None
    rows: dict[str, dict[str, Any]] = {}
    for name in spec["variants"]:
        rows[name] = {}
        for condition in ("clean", "along", "across"):
            result = variant_result(summary, _variant(name), condition)
            rows[name][condition] = final_stage(result, subset) if result is not None else None
    return {"along": spec["along"], "across": spec["across"], "rows": rows}


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` over the seeds, seed by seed (the runs of a seed share their pre-trained baseline and data order,
    so their difference is less noisy than either).

    ``interval`` is the 95% confidence interval of the mean difference from Student's t with ``seeds - 1`` degrees
    of freedom, ``mean ± t_{0.975} · std / sqrt(seeds)`` (``(nan, nan)`` for one seed); ``higher`` counts the seeds in
    which ``b`` exceeds ``a``.
    """

    mean: float
    std: float
    seeds: int
    higher: int
    interval: tuple[float, float]

    def cells(self) -> tuple[str, str, str]:
        """``"mean ± std"``, ``"low to high"`` (the interval) and ``"higher of seeds"``, two decimals."""
        low, high = self.interval
        return f"{self.mean:+.2f} ± {self.std:.2f}", f"{low:+.2f} to {high:+.2f}", f"{self.higher} of {self.seeds}"

    def __str__(self) -> str:
        gap, interval, higher = self.cells()
        return f"{gap} (95% CI {interval}; higher in {higher} seeds)"


def paired_difference(a: dict[str, Any], b: dict[str, Any]) -> PairedDifference:
    """Mean, sample standard deviation and 95% confidence interval over seeds of ``b - a``, seed by seed.

    Args:
        a, b: summary entries (``{"values": [one value per seed, in the same seed order]}``).
    """
    difference = np.asarray(b["values"], dtype=np.float64) - np.asarray(a["values"], dtype=np.float64)
    mean, seeds = float(difference.mean()), difference.size
    std, half = 0.0, float("nan")
    if seeds > 1:
        std = float(difference.std(ddof=1))
        half = float(scipy.stats.t.ppf(0.975, seeds - 1)) * std / np.sqrt(seeds)
    return PairedDifference(mean, std, seeds, int((difference > 0).sum()), (mean - half, mean + half))


def noise_table(summary: dict[str, Any]) -> str:
    """Full-set NME against the clean landmarks of models trained on annotations made noisy along or across the
    boundaries (Sect. 4.3), and the across − along difference paired by seed (:func:`paired_difference`: mean ± std,
    its 95% confidence interval, and in how many seeds across is the higher); empty if the summary has no noise
    runs."""
    study = noise_study(summary)
    if study is None:
        return ""
    header = ["variant", "clean", "noise along", "noise across", "across − along", "its 95% CI", "seeds across > along"]
    rows = []
    for name, row in study["rows"].items():
        means = [mean_std(row[condition]) if row[condition] else "–" for condition in ("clean", "along", "across")]
        cells = [name, *means]
        if row["along"] and row["across"]:
            cells += paired_difference(row["along"], row["across"]).cells()
        else:
            cells += ["–"] * 3
        rows.append(cells)
    return markdown(header, rows) + "\n"


__all__ = [
    "METRICS",
    "TABLES",
    "Experiment",
    "ExperimentError",
    "PairedDifference",
    "Run",
    "Variant",
    "final_stage",
    "markdown_table",
    "mean_std",
    "noise_study",
    "noise_table",
    "paired_difference",
    "table_rows",
    "variant_result",
]
