"""Command line: ``python -m ffld.data.synthetic {generate,bench,figure} ...`` (``--help`` for each)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from ffld.cpus import usable_cpus
from ffld.data.synthetic.config import SynthFaceConfig
from ffld.data.synthetic.figure import sample_grid
from ffld.data.synthetic.generate import DEFAULT_CACHE, ensure_synthface, generate_synthface


def _config(args: argparse.Namespace) -> SynthFaceConfig:
    default = SynthFaceConfig()
    config = dataclasses.replace(
        default, seed=args.seed, noise_along=args.noise_along, noise_across=args.noise_across
    ).with_sizes(
        default.train.size if args.train is None else args.train,
        default.common.size if args.common is None else args.common,
        default.challenge.size if args.challenge is None else args.challenge,
    )
    return config


def _generate(args: argparse.Namespace) -> None:
    config = _config(args)
    start = time.perf_counter()
    if args.out is None:
        root = ensure_synthface(config, args.cache_dir, args.workers)
    else:
        root = generate_synthface(args.out, config, args.workers, overwrite=args.overwrite)
    sizes = (config.train.size, config.common.size, config.challenge.size)
    print(f"SynthFace {config.config_hash()} (train/common/challenge = {'/'.join(map(str, sizes))}) in {root}")
    print(f"ready in {time.perf_counter() - start:.1f} s")


def _cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (the workers; 0 on Windows)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _bench(args: argparse.Namespace) -> None:
    workers = args.workers or usable_cpus()
    config = dataclasses.replace(SynthFaceConfig(), seed=args.seed).with_sizes(args.count, 0, 0)
    with tempfile.TemporaryDirectory() as folder:
        start, cpu = time.perf_counter(), _cpu_seconds()
        generate_synthface(Path(folder) / "bench", config, workers)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    rate = args.count / seconds
    default = SynthFaceConfig()
    total = default.train.size + default.common.size + default.challenge.size
    print(f"{rate:.1f} faces/s: {args.count} training faces rendered and written in {seconds:.2f} s")
    print(f"with {workers} worker process(es) on {usable_cpus()} available CPU core(s)")
    print(f"the default benchmark ({total} faces) takes about {total / rate:.0f} s at this rate")
    cores = min(workers, usable_cpus())
    print(f"CPU time: {1000 * cpu / args.count:.1f} ms per face, i.e. {cores * args.count / cpu:.0f} faces/s on "
          f"{cores} core(s) not shared with other programs")  # fmt: skip
    if args.output:
        from ffld.provenance import write_json

        results = {
            "faces": args.count,
            "workers": workers,
            "cores": usable_cpus(),
            "seconds": seconds,
            "faces_per_s": rate,
            "cpu_ms_per_face": 1000 * cpu / args.count,
        }
        print(f"written to {write_json(args.output, results)}")


def _figure(args: argparse.Namespace) -> None:
    config = dataclasses.replace(SynthFaceConfig(), seed=args.seed)
    print(sample_grid(args.out, config, args.rows, args.columns))


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m ffld.data.synthetic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="generate a benchmark (cached by default)")
    generate.add_argument("--out", type=Path, help="folder to write (default: the cache, see --cache-dir)")
    generate.add_argument("--cache-dir", default=DEFAULT_CACHE, help="cache folder, relative to the repository")
    generate.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    generate.add_argument("--seed", type=int, default=0)
    for split in ("train", "common", "challenge"):
        generate.add_argument(f"--{split}", type=int, help=f"number of {split} images (default: 300W's)")
    generate.add_argument("--noise-along", type=float, default=0.0, help="annotation noise std along (px)")
    generate.add_argument("--noise-across", type=float, default=0.0, help="annotation noise std across (px)")
    generate.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    generate.set_defaults(run=_generate)

    bench = commands.add_parser("bench", help="measure the generation speed (faces/s)")
    bench.add_argument("--count", type=int, default=400, help="faces to generate")
    bench.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--output", help="JSON file for the results, with provenance")
    bench.set_defaults(run=_bench)

    figure = commands.add_parser("figure", help="save a grid of samples with their landmarks")
    figure.add_argument("out", type=Path, help="PNG file to write")
    figure.add_argument("--rows", type=int, default=4)
    figure.add_argument("--columns", type=int, default=6)
    figure.add_argument("--seed", type=int, default=0)
    figure.set_defaults(run=_figure)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
