"""tools/gpu_measurements.py, the prepared device-machine call of issue 8: its commands are ones ffld accepts, and a
step that outlasts its bound or needs a failed step does not cost the others their files."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

from ffld.cli import _overrides, build_parser
from ffld.provenance import git_commit, provenance
from ffld.train import load_config

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("gpu_measurements", ROOT / "tools" / "gpu_measurements.py")
gpu_measurements = sys.modules["gpu_measurements"] = importlib.util.module_from_spec(_spec)  # for its dataclass
_spec.loader.exec_module(gpu_measurements)


def test_the_default_plan_is_issue_8s_and_every_command_is_one_ffld_accepts(tmp_path):
    steps = gpu_measurements.plan(gpu_measurements.parse_arguments([str(tmp_path)]))
    names = ["bench", "compile-bf16", "train synthface-baseline", "evaluate synthface-baseline", "train synthface",
             "evaluate synthface", "compile-fp32"]  # fmt: skip
    assert [step.name for step in steps] == names
    parsed = {}
    for step in steps:
        assert step.command[:3] == [sys.executable, "-m", "ffld"]
        parsed[step.name] = build_parser().parse_args(step.command[3:])
    bench = parsed["bench"]
    assert (bench.device, bench.batch, bench.precision) == ("cuda", [1, 64, 1024], ["fp32", "bf16"])
    assert bench.mode == ["eager", "cudagraph"]
    assert (bench.train_batch, bench.input_size, bench.output) == ([64, 256], 224, "data/results/gpu/bench-gpu.json")
    for precision in ("bf16", "fp32"):
        compiled = parsed[f"compile-{precision}"]
        assert (compiled.mode, compiled.precision, compiled.batch) == (["compile"], [precision], [1, 1024])
        assert compiled.train_batch == []  # no training figures: the bench step has them
    baseline, ffld3 = (load_config(parsed[f"train {n}"].config, _overrides(parsed[f"train {n}"].set)) for n in
                       ("synthface-baseline", "synthface"))  # fmt: skip
    assert (baseline.model.stages, ffld3.model.stages, baseline.data.input_size) == (0, 3, 224)
    assert ffld3.init == "runs/synthface-baseline/model.safetensors"  # step 2 of Sect. 6.6 starts from step 1
    assert parsed["evaluate synthface"].checkpoint == "runs/synthface/model.safetensors"
    assert parsed["evaluate synthface"].output == "data/results/gpu/synthface"  # ffld.results' layout
    assert steps[4].needs == ("train synthface-baseline",) and steps[5].needs == ("train synthface",)
    again = gpu_measurements.plan(gpu_measurements.parse_arguments([str(tmp_path), "--steps", "compile-fp32", "train"]))
    assert [step.name for step in again] == ["compile-fp32", *names[2:6]]  # a later call: the parts left, as asked


def python_step(name: str, code: str, seconds: float = 30, **fields) -> object:
    """A step running ``python -c code``."""
    return gpu_measurements.Step(name, [sys.executable, "-c", code], seconds, **fields)


def test_a_step_past_its_bound_is_stopped_and_a_step_needing_it_does_not_start(tmp_path, monkeypatch, capsys):
    """The first step writes a training curve and outlasts its 1.5 s bound: SIGTERM stops it (exit -15), its curve
    still comes back, and the step that needs it does not start. A step that exits 3 brings back nothing of what it
    wrote; the independent step after it runs, and its result comes back at its path in the results folder."""
    results, out = tmp_path / "results", tmp_path / "out"
    curve = tmp_path / "run" / "metrics.csv"
    slow = f"import pathlib, time; p = pathlib.Path({str(curve)!r}); p.parent.mkdir(); p.write_text('epoch\\n1\\n')"
    results.mkdir()
    failing = f"import pathlib; pathlib.Path({str(results / 'failed.json')!r}).write_text('{{}}'); raise SystemExit(3)"
    written = f"import pathlib; p = pathlib.Path({str(results / 'b' / 'r.json')!r}); p.parent.mkdir(parents=True)"
    steps = [
        python_step("slow", slow + "; time.sleep(60)", 1.5, curves={curve: "slow/metrics.csv"}),
        python_step("after slow", "pass", needs=("slow",), results=("never.json",)),
        python_step("failing", failing, results=("failed.json",)),
        python_step("independent", written + "; p.write_text('{}')", results=("b/r.json",)),
    ]
    monkeypatch.setattr(gpu_measurements, "plan", lambda args: steps)
    monkeypatch.setattr(gpu_measurements, "describe_machine", lambda device, command, log: None)
    status = gpu_measurements.main([str(out), "--results", str(results), "--deadline", "60"])
    assert status == 1
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()) == [
        "b/r.json", "measurements.log", "slow/metrics.csv"
    ]  # fmt: skip
    assert (out / "slow" / "metrics.csv").read_text() == "epoch\n1\n"
    log = (out / "measurements.log").read_text()
    assert re.search(r"^== slow: exit status -15 after \d+ s \(stopped at its bound\)$", log, re.MULTILINE)
    for line in ("== after slow: not started, needs slow", "== failing: exit status 3", "== brought back: b/r.json"):
        assert line in log
    assert capsys.readouterr().out.splitlines() == [line for line in log.splitlines() if line.startswith("== ")]


def test_no_step_starts_with_under_ten_seconds_of_the_deadline_left(tmp_path):
    with open(tmp_path / "log", "w", encoding="utf-8") as log:
        started = gpu_measurements.run_step(python_step("late", "pass"), 0.0, log)
    assert not started
    assert (tmp_path / "log").read_text() == "== late: not started, 0 s left\n"


def test_the_log_begins_with_the_provenance_record_of_the_results(tmp_path):
    """The record ffld.provenance writes into every result file of the run (commit, device, versions)."""
    with open(tmp_path / "log", "w", encoding="utf-8") as log:
        gpu_measurements.describe_machine("cpu", ["python", "tools/gpu_measurements.py", "out"], log)
    record = json.loads((tmp_path / "log").read_text().splitlines()[-1])
    expected = provenance("cpu", [])
    assert record["command"] == "python tools/gpu_measurements.py out"
    assert record["commit"] == git_commit() and record["device"] == expected["device"]
    assert record["versions"] == expected["versions"]
