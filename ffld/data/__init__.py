"""Datasets: the embedded SynthFace benchmark and readers for 300W, COFW, AFLW, WFLW and 300VW.

Every reader item is a dict with at least ``image`` (H×W×3 uint8 RGB), ``landmarks`` ((N, 2) float32, 0-based
``x, y``) and ``path``; see :mod:`ffld.data.base` for the shared behaviour and ``data/README.md`` for where each
dataset comes from and the folder layout ffld expects.
"""

from ffld.data.aflw import AFLW19
from ffld.data.base import DatasetError, FaceRecord, LandmarkDataset, Problem
from ffld.data.cofw import COFW
from ffld.data.facecrop import CropFace, apply_affine, crop_face, crop_matrix, invert_affine, move_item
from ffld.data.image import ImageFileError, load_image
from ffld.data.pdb import pose_balanced_indices
from ffld.data.pts import LandmarkFileError, read_pts, write_pts
from ffld.data.specs import LandmarkSpec, face_size, inter_ocular, inter_pupil
from ffld.data.vw300 import VW300
from ffld.data.w300 import W300
from ffld.data.wflw import WFLW

__all__ = [
    "AFLW19",
    "COFW",
    "VW300",
    "W300",
    "WFLW",
    "CropFace",
    "DatasetError",
    "FaceRecord",
    "ImageFileError",
    "LandmarkDataset",
    "LandmarkFileError",
    "LandmarkSpec",
    "Problem",
    "apply_affine",
    "crop_face",
    "crop_matrix",
    "face_size",
    "inter_ocular",
    "inter_pupil",
    "invert_affine",
    "load_image",
    "move_item",
    "pose_balanced_indices",
    "read_pts",
    "write_pts",
]
