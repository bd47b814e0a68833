"""Committed results: where the book finds them, and reading them with their provenance.

Figures that take hours (a seeded ablation) or hardware the book does not run on (a GPU) are measured once and
committed as small files. Every JSON result is written by :func:`ffld.provenance.write_json`, so it carries a
``provenance`` record (command, commit, device, library versions, date). The layout under the repository root:

=================================================  ==========================================================
``data/results/synthface-cpu/summary.json``        ``ffld experiment synthface-cpu --train --jobs 2`` (CPU
                                                   scale: Tables 5 and 6, the number of stages, annotation
                                                   noise; also ``table5.md``, ``table6.md``, ``noise.md``)
``data/results/bench-cpu.json``                    ``ffld bench --device cpu ... --output``
``data/results/synthface-generation-cpu.json``     ``python -m ffld.data.synthetic bench --output``
``data/results/gpu/bench*.json``                   ``ffld bench --device cuda ... --output``
``data/results/gpu/<experiment>/summary.json``     ``ffld experiment <experiment> --train --results
                                                   data/results/gpu`` (full-scale runs on a GPU)
``data/results/gpu/<run>/results.json``            ``ffld evaluate runs/<run>/model.safetensors --dataset
                                                   synthface --output data/results/gpu/<run>``
``data/models/<name>.safetensors``                 trained models (:func:`ffld.checkpoint.load_model`)
=================================================  ==========================================================

``tools/gpu_measurements.py`` runs the GPU commands above in one call of a machine with a GPU.

A missing file is not an error: :func:`read_result` returns ``None`` and :func:`availability` says the file is
absent, so a chapter can show how a file is read before it exists. Paths are printed relative to the repository
root (never machine-specific).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffld.files import sha256_of

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the folder holding the ``ffld`` package)."""

RESULTS = "data/results"
MODELS = "data/models"
CPU_EXPERIMENT = f"{RESULTS}/synthface-cpu/summary.json"
CPU_BENCH = f"{RESULTS}/bench-cpu.json"
CPU_GENERATION = f"{RESULTS}/synthface-generation-cpu.json"
GPU_BENCH = f"{RESULTS}/gpu/bench*.json"
GPU_EXPERIMENTS = f"{RESULTS}/gpu/*/summary.json"
GPU_EVALUATIONS = f"{RESULTS}/gpu/*/results.json"
BOOK_MODELS = {
    "baseline": "synthface-cpu-baseline",
    "ffld": "synthface-cpu-ffld",
    "ffld_without_align": "synthface-cpu-ffld-l2-l1-l1",
}
"""The models the book loads, seed-0 runs of the CPU-scale experiment (SynthFace, 128×128 input): the baseline, the
3-stage ResNet18-FFLD (L2/L1/AL) and the same without Align Loss (L2/L1/L1, Fig. 10)."""


@dataclass(frozen=True)
class Result:
    """One committed result file.

    Attributes:
        path: the file, relative to the repository root.
        data: its content without the provenance record.
        provenance: how it was produced (empty if the file has none).
    """

    path: str
    data: dict[str, Any]
    provenance: dict[str, Any]

    def describe(self) -> str:
        """One line: the file, and the command, commit, device and date that produced it."""
        record = self.provenance
        if not record:
            return f"{self.path}: no provenance record"
        commit, _, note = str(record.get("commit", "unknown")).partition(" ")  # note: "(FFLD_COMMIT)"
        short = commit[:10] + ("+dirty" if commit.endswith("+dirty") else "") + (f" {note}" if note else "")
        return (
            f"{self.path}: `{_local(record.get('command', '?'))}` at commit {short}, "
            f"on {record.get('device', '?')}, {record.get('date', '?')}"
        )


def _local(text: str) -> str:
    """``text`` with the repository root's absolute path removed (result files are printed in the book)."""
    return str(text).replace(str(ROOT) + "/", "").replace(str(ROOT), ".")


def read_result(relative: str, root: Path = ROOT) -> Result | None:
    """Read a committed JSON result, or ``None`` when it is absent.

    Args:
        relative: the path relative to ``root`` (e.g. :data:`CPU_EXPERIMENT`).
        root: the repository root.
    """
    path = root / relative
    if not path.is_file():
        return None
    content = json.loads(path.read_text(encoding="utf-8"))
    provenance = content.pop("provenance", {})
    return Result(relative, content, provenance)


def find_results(pattern: str, root: Path = ROOT) -> list[Result]:
    """Every committed JSON result matching a glob pattern relative to ``root`` (e.g. :data:`GPU_BENCH`), sorted."""
    paths = sorted(root.glob(pattern))
    return [result for path in paths if (result := read_result(str(path.relative_to(root)), root)) is not None]


def availability(pattern: str, root: Path = ROOT) -> str:
    """One line per matching file saying where it came from, or that nothing matching is committed."""
    results = find_results(pattern, root)
    if not results:
        return f"{pattern}: absent (no such result is committed)"
    return "\n".join(result.describe() for result in results)


def evaluation_lines(results: dict[str, Any]) -> list[str]:
    """One line per subset and stage of ``ffld evaluate``'s results (a ``results.json``'s content or
    :func:`ffld.evaluate.evaluate_checkpoint`'s return): NME, AUC and FR in %."""
    threshold = results["threshold"]
    lines = []
    for subset, rows in results["subsets"].items():
        for row in rows:
            lines.append(
                f"{subset:>10} S{row['stage']}: NME {row['nme']:.2f}%, AUC@{threshold:g} {row['auc']:.2f}%, "
                f"FR@{threshold:g} {row['fr']:.2f}%"
            )
    return lines


def model_path(name: str, root: Path = ROOT) -> Path:
    """A committed model file, ``data/models/<name>.safetensors``.

    Raises:
        FileNotFoundError: when it is not committed, naming the command that trains it.
    """
    path = root / MODELS / f"{name}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(
            f"{MODELS}/{name}.safetensors is not committed; it is the seed-0 run of "
            "`ffld experiment synthface-cpu --train` copied into data/models/"
        )
    return path


def model_provenance(name: str, root: Path = ROOT) -> str:
    """Where a committed model came from: its run's provenance record when its metadata has one, and its SHA-256,
    checked against the table of ``data/models/README.md`` (which records the command, commit, device and date of
    the models committed before model files carried their provenance)."""
    from ffld.checkpoint import read_metadata

    path = model_path(name, root)
    digest = sha256_of(path)
    readme = root / MODELS / "README.md"
    documented = readme.is_file() and digest in readme.read_text(encoding="utf-8")
    line = f"{MODELS}/{name}.safetensors: sha256 {digest[:12]}…, " + (
        f"documented in {MODELS}/README.md" if documented else f"not listed in {MODELS}/README.md"
    )
    record = read_metadata(path).get("provenance")
    if record:
        line += "; " + Result(f"{MODELS}/{name}.safetensors", {}, record).describe().split(": ", 1)[1]
    return line


__all__ = [
    "BOOK_MODELS",
    "CPU_BENCH",
    "CPU_EXPERIMENT",
    "CPU_GENERATION",
    "GPU_BENCH",
    "GPU_EVALUATIONS",
    "GPU_EXPERIMENTS",
    "MODELS",
    "RESULTS",
    "ROOT",
    "Result",
    "availability",
    "evaluation_lines",
    "find_results",
    "model_path",
    "model_provenance",
    "read_result",
]
