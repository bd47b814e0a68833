"""The values of an experiment file (:mod:`ffld.experiments`), checked when it is read.

Its keys are checked by :mod:`ffld.experiments`; these checks catch the values that would otherwise fail only later
(with a traceback, or in a training subprocess after the baselines have trained): training configs that do not
exist, seeds that are not distinct non-negative integers, a table list written as one name, and noise-study variants
(Sect. 4.3) that name no refinement losses.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ffld.train.config import ConfigError, resolve_config_path

MAX_STAGES = 3
"""The refinement stages of the paper's framework (Fig. 1), so at most three losses in a variant's name."""


def spec_problems(spec: dict[str, Any], tables: Collection[str], losses: Collection[str]) -> list[str]:
    """One ``"key: problem"`` per bad value of an experiment file.

    Args:
        spec: the file's mapping (its keys already checked).
        tables: the known table names; losses: the short loss names of a variant's name (``L2``, ``L1``, ``AL``).
    """
    problems = []
    for key in ("pretrain", "finetune"):
        if not isinstance(spec[key], str):
            problems.append(f"{key}: expected a training config's name or file, got {spec[key]!r}")
            continue
        try:
            resolve_config_path(spec[key])
        except ConfigError as error:
            problems.append(f"{key}: {error}")
    seeds = spec["seeds"]
    if not (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 for seed in seeds)
        and len(set(seeds)) == len(seeds)
    ):
        problems.append(f"seeds: expected a list of distinct integers >= 0, got {seeds!r}")
    chosen = spec.get("tables", [])
    if not isinstance(chosen, list):
        problems.append(f"tables: expected a list of tables ({', '.join(tables)}), got {chosen!r}")
    else:
        unknown = [str(name) for name in chosen if name not in tables]
        if unknown:
            problems.append(f"tables: unknown table(s) {', '.join(unknown)} (known: {', '.join(tables)})")
    if "noise" in spec:
        problems += _noise_problems(spec["noise"], losses)
    return problems


def _noise_problems(noise: Any, losses: Collection[str]) -> list[str]:
    """The problems of the ``noise`` entry: ``{along: px, across: px, variants: ["L2/L1/AL", ...]}``."""
    if not isinstance(noise, dict) or set(noise) != {"along", "across", "variants"}:
        return [f"noise: expected a mapping of along, across and variants, got {noise!r}"]
    problems = [
        f"noise.{key}: expected a number >= 0 (pixels), got {noise[key]!r}"
        for key in ("along", "across")
        if isinstance(noise[key], bool) or not isinstance(noise[key], int | float) or noise[key] < 0
    ]
    variants = noise["variants"]
    names = variants if isinstance(variants, list) else [variants]
    bad = [
        repr(name)
        for name in names
        if not isinstance(name, str)
        or not 1 <= len(name.split("/")) <= MAX_STAGES
        or any(part not in losses for part in name.split("/"))
    ]
    if not isinstance(variants, list) or not variants or bad:
        problems.append(
            f"noise.variants: expected a list of refinement losses such as 'L2/L1/AL' (1 to {MAX_STAGES} of "
            f"{', '.join(losses)}){'; got ' + ', '.join(bad) if bad else ''}"
        )
    return problems


__all__ = ["MAX_STAGES", "spec_problems"]
