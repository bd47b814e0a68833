"""Datasets: the embedded SynthFace benchmark and readers for 300W, COFW, AFLW, WFLW and 300VW."""

from ffld.data.pts import LandmarkFileError, read_pts, write_pts

__all__ = ["LandmarkFileError", "read_pts", "write_pts"]
