"""Issue 8's GPU figures, prepared for one call of the device tool (``/work/.library/device/README.md``).

The device machine runs a copy of the committed tree without ``.git``, on a ``python3`` that holds PyTorch and every
package ffld needs but dlib (which only the CPU benchmark uses). So the caller names the commit::

    FFLD_COMMIT=<git rev-parse HEAD> python3 tools/gpu_measurements.py $OUT        # timeout_s=600

Each step is one ``python -m ffld`` command, bounded by its own limit and by what is left of ``--deadline`` seconds,
so that a slow or failing step still leaves the files of the others. A training run stopped at its bound checkpoints
and exits (SIGTERM), and the same command on the still-warm machine resumes it (``--steps train compile-fp32``, say).
The commands write into ``data/results/gpu/`` (see :mod:`ffld.results`), so that each file's provenance names the
command that reproduces it; the files are then copied to OUT, at most the 8 that the device tool brings back. The
parts (``--steps``), in their default order:

================  ===========================================================  =========================================
``bench``         eager and CUDA-graph inference at batch 1, 64 and 1024 in    ``bench-gpu.json``
                  fp32 and bf16; training images/s and peak memory at 64, 256
``compile-bf16``  ``torch.compile`` inference at batch 1 and 1024 (a compile   ``bench-gpu-compile-bf16.json``
                  for each figure: minutes)
``train``         the paper's two-step recipe (Sect. 6.6) on SynthFace at      ``synthface-baseline/metrics.csv`` and
                  224×224: the baseline, then the 3-stage model from it; their ``results.json``; ``synthface/`` the same
                  training curves and ``ffld evaluate``
``compile-fp32``  as ``compile-bf16``, in fp32                                 ``bench-gpu-compile-fp32.json``
================  ===========================================================  =========================================

and ``measurements.log``: the GPU, driver and the run's provenance record, then each step's command, output,
duration and exit status (its ``==`` lines, the steps' starts and ends, are also printed at the end, for the device
tool's reply).
Afterwards, here: copy OUT's files into ``data/results/gpu/``, commit, and run ``make outputs`` (chapters 6 and 8 read
them). ``--device cpu`` with small sizes and ``--set`` runs the same plan on a CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("bench", "compile-bf16", "train", "compile-fp32")
"""The parts of the plan, in the default order: figures first, a compile for each ``torch.compile`` figure (minutes)."""
GRACE_SECONDS = 20
"""How long a step stopped at its bound has to exit (a training run writes its checkpoint) before it is killed."""
SHORTEST_STEP = 10
"""No step starts with fewer seconds than this left before the deadline."""


@dataclass(frozen=True)
class Step:
    """One command of the plan.

    Attributes:
        name: what the log calls it.
        command: the program and its arguments.
        seconds: its own bound.
        needs: the steps that must have succeeded for it to start.
        results: the result files it writes (relative to the results folder), brought back when it exits 0.
        curves: run files copied into the results folder whatever its exit (a training curve shows how far a run went).
    """

    name: str
    command: list[str]
    seconds: float
    needs: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    curves: dict[Path, str] = field(default_factory=dict)


def ffld(*arguments: str) -> list[str]:
    """The command line of ``python -m ffld ARGUMENTS`` on this interpreter."""
    return [sys.executable, "-m", "ffld", *arguments]


def plan(args: argparse.Namespace) -> list[Step]:
    """The commands of ``args.steps`` (:data:`STEPS`), in that order, writing into ``args.results``."""
    results, runs = Path(args.results), Path(args.runs)
    bench = ["bench", "--device", args.device, "--input-size", str(args.input_size), "--repeats", str(args.repeats)]
    steps = []
    for part in args.steps:
        if part == "bench":
            modes = ["eager", "cudagraph"] if args.device == "cuda" else ["eager"]  # CUDA graphs need CUDA
            figures = ["--batch", *map(str, args.batch), "--mode", *modes, "--precision", "fp32", "bf16"]
            training = ["--train-batch", *map(str, args.train_batch), "--output", str(results / "bench-gpu.json")]
            steps.append(Step("bench", ffld(*bench, *figures, *training), 150, results=("bench-gpu.json",)))
        elif part.startswith("compile-"):
            precision = part.removeprefix("compile-")
            figures = ["--batch", *map(str, args.compile_batch), "--mode", "compile", "--precision", precision]
            output = f"bench-gpu-compile-{precision}.json"
            command = ffld(*bench, *figures, "--train-batch", "--output", str(results / output))
            steps.append(Step(part, command, 150, results=(output,)))
        else:
            steps += training_steps(args, results, runs)
    return steps


def training_steps(args: argparse.Namespace, results: Path, runs: Path) -> list[Step]:
    """The paper's two-step recipe (Sect. 6.6) on SynthFace: the baseline, then the 3-stage model from it, each
    evaluated by ``ffld evaluate`` into ``results/<run>``."""
    sets = [*args.set, *([f"data.root={args.synthface_root}"] if args.synthface_root else [])]
    data_root = ["--root", args.synthface_root] if args.synthface_root else []
    init = f"init={runs / 'synthface-baseline' / 'model.safetensors'}"
    steps = []
    for name, seconds, needs, extra in (
        ("synthface-baseline", 200, (), []),
        ("synthface", 240, ("train synthface-baseline",), [init]),
    ):
        run = runs / name
        overrides = [option for value in [*sets, *extra] for option in ("--set", value)]
        train = ffld("train", name, "--output", str(run), *overrides)
        curve = {ROOT / run / "metrics.csv": f"{name}/metrics.csv"}
        steps.append(Step(f"train {name}", train, seconds, needs, curves=curve))
        evaluate = ffld("evaluate", str(run / "model.safetensors"), "--dataset", "synthface", *data_root,
                        "--device", args.device, "--output", str(results / name))  # fmt: skip
        steps.append(Step(f"evaluate {name}", evaluate, 60, (f"train {name}",), (f"{name}/results.json",)))
    return steps


def copy_file(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination``, making its folder."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def environment() -> dict[str, str]:
    """The environment of the steps' commands: ffld importable from ROOT, output unbuffered into the log."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def run_step(step: Step, deadline: float, log: IO[str]) -> bool:
    """Run ``step`` until it ends, its bound passes or ``deadline`` (a ``time.monotonic()`` value) comes; then
    SIGTERM, and SIGKILL after :data:`GRACE_SECONDS`. Its output goes to ``log``; returns whether it ended by
    itself with exit status 0."""
    left = deadline - time.monotonic()
    if left < SHORTEST_STEP:
        print(f"== {step.name}: not started, {max(left, 0):.0f} s left", file=log, flush=True)
        return False
    seconds = min(step.seconds, left)
    print(f"== {step.name} (at most {seconds:.0f} s): {' '.join(step.command)}", file=log, flush=True)
    start = time.monotonic()
    process = subprocess.Popen(step.command, cwd=ROOT, env=environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        status = process.wait(seconds)
        stopped = False
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            status = process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
        stopped = True
    ending = " (stopped at its bound)" if stopped else ""
    print(f"== {step.name}: exit status {status} after {time.monotonic() - start:.0f} s{ending}", file=log, flush=True)
    return status == 0 and not stopped  # a training run stopped at its bound exits 130: unfinished either way


def describe_machine(device: str, command: list[str], log: IO[str]) -> None:
    """The GPU and driver (``nvidia-smi``, where there is one), then the provenance record that every result file of
    the run carries (:func:`ffld.provenance.provenance`: commit, device, library versions), as JSON, for
    ``command``, this script's command line."""
    if shutil.which("nvidia-smi"):
        query = "--query-gpu=name,memory.total,driver_version,clocks.max.sm"
        subprocess.run(["nvidia-smi", query, "--format=csv"], stdout=log, stderr=subprocess.STDOUT, check=False)
    record = (
        f"import json; from ffld.provenance import provenance; print(json.dumps(provenance({device!r}, {command!r})))"
    )
    program = [sys.executable, "-c", record]
    subprocess.run(program, cwd=ROOT, env=environment(), stdout=log, stderr=subprocess.STDOUT, check=False)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for the results ($OUT on the device machine)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="which parts, in this order")
    parser.add_argument("--deadline", type=float, default=560, help="seconds for all the steps together")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a trial of the plan")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64, 1024], help="eager / CUDA-graph batches")
    parser.add_argument("--compile-batch", type=int, nargs="+", default=[1, 1024], help="torch.compile batches")
    parser.add_argument("--train-batch", type=int, nargs="+", default=[64, 256], help="training-speed batches")
    parser.add_argument("--input-size", type=int, default=224, help="the benchmarks' input side")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per inference figure")
    parser.add_argument("--results", default="data/results/gpu", help="where the steps write their results")
    parser.add_argument("--runs", default="runs", help="folder for the training runs")
    parser.add_argument("--synthface-root", help="SynthFace cache folder (default: the configs')")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for both training runs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the plan; the exit status is 0 when every step succeeded."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse_arguments(arguments)
    deadline = time.monotonic() + args.deadline
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    written: list[str] = []
    steps = plan(args)
    results = ROOT / args.results  # the commands run in ROOT; an absolute --results stays as it is
    with open(out / "measurements.log", "a", encoding="utf-8") as log:
        describe_machine(args.device, ["python", "tools/gpu_measurements.py", *arguments], log)
        for step in steps:
            missing = [name for name in step.needs if name not in done]
            if missing:
                print(f"== {step.name}: not started, needs {', '.join(missing)}", file=log, flush=True)
                continue
            if run_step(step, deadline, log):
                done.add(step.name)
                written += [relative for relative in step.results if (results / relative).is_file()]
            for source, relative in step.curves.items():
                if source.is_file():
                    copy_file(source, results / relative)
                    written.append(relative)
        for relative in written:
            copy_file(results / relative, out / relative)
            print(f"== brought back: {relative}", file=log, flush=True)
    summary = [line for line in (out / "measurements.log").read_text().splitlines() if line.startswith("== ")]
    print("\n".join(summary))  # what the device tool shows of the call; the log has every step's output
    return 0 if len(done) == len(steps) else 1


if __name__ == "__main__":
    sys.exit(main())
