"""The benchmarks by name: how to open a split, the landmark layout, the NME normaliser and test subsets.

=========  ==========  =============  =====================================  =========
name       layout      normaliser     test subsets                           AUC thr.
=========  ==========  =============  =====================================  =========
synthface  iBUG 68     inter-ocular   common, challenge, full                0.08
300w       iBUG 68     inter-ocular   common, challenge, full                0.08
300vw      iBUG 68     inter-ocular   categories 1, 2, 3                     0.08
aflw       AFLW 19     face size      full, frontal                          0.07
cofw       COFW 29     inter-pupil    test                                   0.10
wflw       WFLW 98     inter-ocular   test and its six attribute subsets     0.10
=========  ==========  =============  =====================================  =========

The paper normalises 300W and 300VW by the inter-ocular distance (Tables 1, 4; Sect. 6.2) and AFLW by the face
size (Table 2). Table 3's caption calls COFW's NME "face size" too, but the other methods' figures in it are the COFW
inter-pupil NMEs those methods published (e.g. ESR's 11.20 from RCPR's COFW benchmark, which normalises by the
distance between the pupils), and on COFW's boxes sqrt(w·h) is several times the pupil distance; so ffld scores
COFW by the inter-pupil distance, which makes its numbers comparable with Table 3. A WFLW subset is written
``test:<attribute>`` (e.g. ``test:largepose``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch.utils.data

from ffld.data.aflw import AFLW19
from ffld.data.base import DatasetError
from ffld.data.cofw import COFW
from ffld.data.specs import AFLW19 as AFLW19_SPEC
from ffld.data.specs import COFW29, IBUG68, WFLW98, LandmarkSpec, face_size, inter_ocular, inter_pupil
from ffld.data.vw300 import VW300
from ffld.data.w300 import W300
from ffld.data.wflw import ATTRIBUTES, WFLW

Opener = Callable[..., torch.utils.data.Dataset]
Normaliser = Callable[[np.ndarray, np.ndarray, LandmarkSpec], np.ndarray]

NORMALISERS: dict[str, Normaliser] = {
    "inter-ocular": lambda truth, boxes, spec: inter_ocular(truth, spec),
    "inter-pupil": lambda truth, boxes, spec: inter_pupil(truth, spec),
    "face-size": lambda truth, boxes, spec: face_size(boxes),
}
"""The NMEs' normalisers by name: ``(truth (M, N, 2), boxes (M, 4), spec) -> (M,)`` distances (see
:mod:`ffld.data.specs`)."""


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark.

    Attributes:
        name: registry name.
        spec: landmark layout.
        normaliser: the benchmark's NME normaliser, a key of :data:`NORMALISERS`.
        test_splits: the subsets evaluated by default.
        threshold: the usual AUC / failure-rate threshold.
        opener: ``(root, split, **options) -> dataset``.
    """

    name: str
    spec: LandmarkSpec
    normaliser: str
    test_splits: tuple[str, ...]
    threshold: float
    opener: Opener

    def norms(self, truth: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(M,) NME normalisers of M faces from their landmarks ``truth`` (M, N, 2) and face boxes (M, 4)."""
        return NORMALISERS[self.normaliser](truth, boxes, self.spec)

    def normalised_by(self, normaliser: str) -> DatasetInfo:
        """This benchmark scored with another normaliser (e.g. 300W's inter-pupil half of Table 1)."""
        if normaliser not in NORMALISERS:
            raise ValueError(f"unknown normaliser {normaliser!r}; choose one of {', '.join(NORMALISERS)}")
        return dataclasses.replace(self, normaliser=normaliser)


def _open_wflw(root: str, split: str, **options: Any) -> torch.utils.data.Dataset:
    base, colon, subset = split.partition(":")
    if colon and subset not in ATTRIBUTES:
        raise DatasetError(f"unknown WFLW subset {split!r}; expected train, test or test:<{'|'.join(ATTRIBUTES)}>")
    return WFLW(root, base, subset or None, **options)


def _open_300vw(root: str, split: str, **options: Any) -> torch.utils.data.Dataset:
    if split.isdigit() and str(int(split)) != split:  # "03" would be scored as category 3 but labelled "03"
        raise DatasetError(f"unknown 300VW category {split!r}; expected 1, 2, 3 or train")
    return VW300(root, int(split) if split.isdigit() else split, **options)


def synthface_config(options: dict[str, Any] | None = None) -> Any:
    """A ``SynthFaceConfig`` from plain data (a config file's ``data.synthface``): the default config with the given
    fields replaced; a split's entry (``train``, ``common``, ``challenge``) replaces only the fields it names."""
    from ffld.data.synthetic import SPLITS, SynthFaceConfig

    config = SynthFaceConfig()
    changes: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key in SPLITS:
            changes[key] = dataclasses.replace(config.split(key), **value)
        elif key == "face_scale":
            changes[key] = tuple(value)
        else:
            changes[key] = value
    return dataclasses.replace(config, **changes)


ANNOTATION_NOISE = ("noise_along", "noise_across")
"""SynthFace's annotation-noise settings, which :func:`open_split` applies to the training split only."""


def _open_synthface(root: str | None, split: str, synthface: dict[str, Any] | None = None) -> torch.utils.data.Dataset:
    from ffld.data.synthetic import SynthFace, ensure_synthface

    if split != "train":  # the test splits of every noise condition: the same faces, crops and exact annotations
        synthface = {key: value for key, value in (synthface or {}).items() if key not in ANNOTATION_NOISE}
    config = synthface_config(synthface)
    folder = ensure_synthface(config) if root is None else ensure_synthface(config, cache_dir=root)
    return SynthFace(folder, split)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("synthface", IBUG68, "inter-ocular", ("common", "challenge", "full"), 0.08, _open_synthface),
        DatasetInfo("300w", IBUG68, "inter-ocular", ("common", "challenge", "full"), 0.08, W300),
        DatasetInfo("300vw", IBUG68, "inter-ocular", ("1", "2", "3"), 0.08, _open_300vw),
        DatasetInfo("aflw", AFLW19_SPEC, "face-size", ("full", "frontal"), 0.07, AFLW19),
        DatasetInfo("cofw", COFW29, "inter-pupil", ("test",), 0.10, COFW),
        DatasetInfo(
            "wflw",
            WFLW98,
            "inter-ocular",
            ("test", *(f"test:{attribute}" for attribute in ATTRIBUTES)),
            0.10,
            _open_wflw,
        ),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """The benchmark called ``name``; a clear error listing the known ones otherwise."""
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def open_split(
    name: str,
    root: str | None,
    split: str,
    convert: bool = False,
    synthface: dict[str, Any] | None = None,
) -> torch.utils.data.Dataset:
    """Open one split of a benchmark.

    Args:
        name, root, split: the benchmark, its folder and the split (see the table above).
        convert: readers convert grayscale, 16-bit and 4-channel images instead of refusing them.
        synthface: SynthFace generator settings (SynthFace only; its root is the cache folder, optional). Annotation
            noise (:data:`ANNOTATION_NOISE`) is a property of the training annotations: the other splits are opened
            without it, so that models trained on clean and on noisy annotations are scored on the same crops,
            which the crop box, taken from the annotation, would otherwise move.
    """
    info = dataset_info(name)
    if root is not None and os.path.exists(root) and not os.path.isdir(root):
        what = "the SynthFace cache folder" if info.name == "synthface" else f"the {name} root"
        raise DatasetError(f"{root}: is a file, not a folder ({what})")
    if info.name == "synthface":
        return info.opener(root, split, synthface)
    if root is None:
        raise ValueError(f"dataset {name!r} needs a root folder (see data/README.md)")
    if not os.path.isdir(root):
        raise DatasetError(f"{root}: no such folder (the {name} root; see data/README.md for its layout)")
    return info.opener(root, split, convert=convert)


__all__ = [
    "ANNOTATION_NOISE",
    "DATASETS",
    "NORMALISERS",
    "DatasetInfo",
    "Normaliser",
    "dataset_info",
    "open_split",
    "synthface_config",
]
