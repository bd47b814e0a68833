"""The ``ffld`` command: train, evaluate, predict, bench, experiment, export.

Errors in what the user gave (a config, a checkpoint, a dataset, an image, a device), a missing optional package,
a diverged training and a failed experiment run end the command with one line on stderr,
``ffld <command>: error: <what and where>``, and exit status 1; any other exception (a bug) keeps its traceback.
Output paths are checked before any work is done. Ctrl-C and SIGTERM end ``ffld train`` and ``ffld experiment``
with one line and status 130: a training run first checkpoints at the end of its current step (a second Ctrl-C
stops it at once), ``ffld experiment`` first stops its training runs so, and the same command resumes them. Other
commands end so on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml


def _positive(kind: type[int] | type[float], zero: bool = False) -> Callable[[str], int | float]:
    """An argparse type: a number of ``kind`` that is > 0 (>= 0 with ``zero``)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a{'n integer' if kind is int else ' number'}, got {text!r}"
            ) from None
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>= 0' if zero else '> 0'}, got {text}")
        return value

    return parse


def _check_output_folder(path: str | os.PathLike) -> Path:
    """Check, before any work is done, that an output folder is one or can be made; the writers create it, so a
    command that fails leaves no empty folder behind."""
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise ValueError(f"{folder}: exists and is not a folder; give a folder for the outputs")
        return folder
    ancestor = next(parent for parent in folder.absolute().parents if parent.exists())
    if not ancestor.is_dir():
        raise ValueError(f"{folder}: cannot be made, since {ancestor} is a file; give a folder for the outputs")
    return folder


def _check_output_file(path: str | os.PathLike) -> Path:
    """Check an output file's path before any work is done (its folder is created when it is written)."""
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{file}: is a folder; give a file name")
    _check_output_folder(file.parent)
    return file


def _overrides(pairs: list[str]) -> dict[str, object]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE (e.g. optimizer.epochs=10), got {pair!r}")
        values[key] = yaml.safe_load(value)
    return values


def _train(args: argparse.Namespace) -> None:
    from ffld.train import load_config, train

    overrides = _overrides(args.set)
    if args.output:
        overrides["output"] = args.output
    config = load_config(args.config, overrides)
    _check_output_folder(config.output)
    signal.signal(signal.SIGTERM, _interrupt)  # until training starts, whose loop stops at a step boundary
    train(config)


def _evaluate(args: argparse.Namespace) -> None:
    from ffld.evaluate import evaluate_checkpoint
    from ffld.results import evaluation_lines
    from ffld.train.distributed import choose_device

    if args.output:
        _check_output_folder(args.output)
    results = evaluate_checkpoint(
        args.checkpoint,
        args.dataset,
        args.root,
        args.split or None,
        choose_device(args.device),
        args.threshold,
        args.output,
        args.workers,
        args.convert,
        args.visible_only,
        args.normaliser,
    )
    print(f"{args.dataset}, NME normalised by {results['normaliser']}:")
    print("\n".join(evaluation_lines(results)))
    if args.output:
        print(f"results written to {Path(args.output) / 'results.json'} and per_image.csv")


def _predict(args: argparse.Namespace) -> None:
    import numpy as np

    from ffld.checkpoint import load_model
    from ffld.data.image import ImageFileError, load_image
    from ffld.predict import detect_faces, predict_landmarks, save_prediction
    from ffld.train.distributed import choose_device

    if args.box and not (args.box[2] > args.box[0] and args.box[3] > args.box[1]):
        raise ValueError(f"--box {' '.join(f'{v:g}' for v in args.box)}: needs X1 > X0 and Y1 > Y0")
    stems = [Path(path).stem for path in args.images]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise ValueError(
            f"several images are named {', '.join(repeated)}: their drawings and .pts files in {args.output} would "
            "overwrite each other; predict them with different --output folders"
        )
    _check_output_folder(args.output)
    device = choose_device(args.device)
    model, metadata = load_model(args.checkpoint, device)
    failed = 0
    for path in args.images:
        try:  # on an error, the other images are still predicted
            image = load_image(path, convert=True)
            height, width = image.shape[:2]
            if args.box and not (args.box[0] < width and args.box[1] < height and min(args.box[2:]) > 0):
                box = " ".join(f"{v:g}" for v in args.box)
                raise ValueError(f"{path}: --box {box} lies outside the {width}×{height} image")
        except (ImageFileError, ValueError) as error:
            print(f"ffld predict: error: {error}", file=sys.stderr)
            failed += 1
            continue
        if args.box:
            boxes = np.array([args.box], dtype=np.float64)
        else:
            boxes = detect_faces(image)
            if not len(boxes):
                print(f"ffld predict: error: {path}: no face found (give one with --box X0 Y0 X1 Y1)", file=sys.stderr)
                failed += 1
                continue
        faces = predict_landmarks(model, metadata, image, boxes, device, args.passes)
        drawn = save_prediction(image, faces, path, args.output)
        print(f"{path}: {len(faces)} face(s), landmarks drawn in {drawn}")
    if failed:
        raise ValueError(f"{failed} of {len(args.images)} images could not be predicted (named above)")


def _bench(args: argparse.Namespace) -> None:
    from ffld.bench import run_benchmarks
    from ffld.provenance import write_json
    from ffld.train.distributed import choose_device

    if args.output:
        _check_output_file(args.output)
    device = choose_device(args.device)
    results = run_benchmarks(
        device,
        args.batch,
        args.mode,
        args.precision,
        args.train_batch,
        args.landmarks,
        args.input_size,
        args.dlib,
        args.repeats,
    )
    if args.output:
        print(f"written to {write_json(args.output, results, device)}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _experiment(args: argparse.Namespace) -> None:
    from ffld.experiments import Experiment

    experiment = Experiment(args.name, args.runs, args.results)
    _check_output_folder(experiment.results_dir)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the training runs too, as Ctrl-C does
    if args.train:
        _check_output_folder(experiment.runs_dir)
        experiment.train_all(args.jobs)
    experiment.summarise()
    print(f"summary written to {experiment.results_dir}")


def _export(args: argparse.Namespace) -> None:
    from ffld.checkpoint import load_model
    from ffld.export import export_onnx

    _check_output_file(args.onnx)
    model, metadata = load_model(args.checkpoint)
    path = export_onnx(model, args.onnx, metadata)
    print(json.dumps({"onnx": str(path), "input": [None, 3, metadata["input_size"], metadata["input_size"]]}))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    from ffld.bench import MODES
    from ffld.data.registry import NORMALISERS

    parser = argparse.ArgumentParser(
        prog="ffld", description="Fine-grained facial landmark detection (Yan, Duffner et al., CVIU 2020)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train (or resume) a model from a YAML config")
    train.add_argument("config", help="a config file, or a built-in config name (e.g. synthface-cpu)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    train.add_argument("--output", help="run folder (default: the config's output)")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="NME, AUC and failure rate of a model on a benchmark")
    evaluate.add_argument("checkpoint", help="a .safetensors model file or a .pt training checkpoint")
    evaluate.add_argument("--dataset", required=True, help="synthface, 300w, 300vw, aflw, cofw or wflw")
    evaluate.add_argument("--root", help="the dataset's folder (SynthFace: its cache folder, optional)")
    evaluate.add_argument(
        "--split", action="append", help="a subset to evaluate (repeatable; default: the dataset's test subsets)"
    )
    evaluate.add_argument(
        "--threshold",
        type=_positive(float),
        help="AUC / failure-rate threshold, a fraction (default: the dataset's, e.g. 0.08)",
    )
    evaluate.add_argument(
        "--normaliser", choices=list(NORMALISERS), help="NME normaliser (default: the dataset's, see data/README.md)"
    )
    evaluate.add_argument("--device", default="auto", help="auto, cpu or cuda")
    evaluate.add_argument("--workers", type=_positive(int, zero=True), default=0, help="image-decoding processes")
    evaluate.add_argument("--convert", action="store_true", help="convert grayscale/16-bit/RGBA images to RGB")
    evaluate.add_argument(
        "--visible-only", action="store_true", help="score each face on its visible landmarks (AFLW, COFW)"
    )
    evaluate.add_argument("--output", help="folder for results.json and per_image.csv")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser(
        "predict",
        help="detect faces in images and draw their landmarks",
        description="Detect faces in images and draw their landmarks. Every image is tried; the exit status is 1 if "
        "any could not be read or held no face that the detector found.",
    )
    predict.add_argument("images", nargs="+", help="image files")
    predict.add_argument("--checkpoint", required=True, help="a .safetensors model file or a .pt checkpoint")
    predict.add_argument(
        "--box", nargs=4, type=float, metavar=("X0", "Y0", "X1", "Y1"), help="the face box (skips detection)"
    )
    predict.add_argument(
        "--passes",
        type=_positive(int),
        help="crops per face: the first around the box, each later one around the last landmarks' box (default: 2, "
        "or 1 for a model trained on dataset boxes; 1 if --box is already the landmarks' box)",
    )
    predict.add_argument("--output", default="predictions", help="folder for the drawings and .pts files")
    predict.add_argument("--device", default="auto", help="auto, cpu or cuda")
    predict.set_defaults(run=_predict)

    bench = commands.add_parser("bench", help="inference and training speed and memory")
    bench.add_argument("--device", default="auto", help="auto, cpu or cuda")
    bench.add_argument("--batch", type=_positive(int), nargs="+", default=[1, 64], help="inference batch sizes")
    bench.add_argument("--mode", nargs="+", default=["eager"], choices=MODES)
    bench.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    bench.add_argument("--train-batch", type=_positive(int), nargs="*", default=[64], help="training batch sizes")
    bench.add_argument("--landmarks", type=_positive(int), default=68, help="number of landmarks N")
    bench.add_argument("--input-size", type=_positive(int), default=224, help="input side")
    bench.add_argument("--dlib", action="store_true", help="also time dlib's 68-point shape predictor (CPU)")
    bench.add_argument(
        "--repeats", type=_positive(int), default=50, help="timed runs per inference figure (median reported)"
    )
    bench.add_argument("--output", help="JSON file for the results, with provenance")
    bench.set_defaults(run=_bench)

    experiment = commands.add_parser("experiment", help="the paper's ablations on SynthFace, over several seeds")
    experiment.add_argument("name", help="an experiment file, or a built-in one (e.g. synthface-cpu)")
    experiment.add_argument("--train", action="store_true", help="train the runs that are missing (resumable)")
    experiment.add_argument("--jobs", type=_positive(int), default=1, help="runs trained at the same time")
    experiment.add_argument("--runs", default="runs", help="folder of the training runs")
    experiment.add_argument("--results", default="data/results", help="folder of the summaries")
    experiment.set_defaults(run=_experiment)

    export = commands.add_parser("export", help="export a model to ONNX")
    export.add_argument("checkpoint", help="a .safetensors model file or a .pt checkpoint")
    export.add_argument("--onnx", required=True, help="the .onnx file to write")
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ffld`` command; returns the exit status."""
    from ffld.bench import MissingDependencyError
    from ffld.checkpoint import CheckpointError
    from ffld.data.base import DatasetError
    from ffld.data.image import ImageFileError
    from ffld.data.pts import LandmarkFileError
    from ffld.experiments import ExperimentError
    from ffld.train.config import ConfigError
    from ffld.train.distributed import DeviceError
    from ffld.train.engine import TrainingDiverged

    args = build_parser().parse_args(argv)

    def show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
        print(f"ffld {args.command}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():  # restores showwarning for callers of main() (tests)
            warnings.showwarning = show_warning
            args.run(args)
    except (
        ValueError,
        FileNotFoundError,
        CheckpointError,
        ConfigError,
        DatasetError,
        DeviceError,
        ExperimentError,
        ImageFileError,
        LandmarkFileError,
        MissingDependencyError,
        TrainingDiverged,
    ) as error:
        print(f"ffld {args.command}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # an output path that cannot be written, a full disk, a permission
        where = f"{error.filename}: " if error.filename else ""
        print(f"ffld {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = (
            "; the same command resumes from the last checkpoint" if args.command in ("train", "experiment") else ""
        )
        if os.environ.get("RANK", "0") == "0":  # under torchrun every process is stopped; one says so
            print(f"ffld {args.command}: interrupted{resume}", file=sys.stderr)
        return 130
    return 0


__all__ = ["build_parser", "main"]
