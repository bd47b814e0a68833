"""SynthFace is written in the 300W layout: the 300W reader's pairing and .pts parsing read it as SynthFace does."""

import numpy as np

from ffld.data.image import load_image
from ffld.data.pts import read_pts
from ffld.data.synthetic import SynthFace, SynthFaceConfig, generate_synthface
from ffld.data.w300 import annotated_images


def test_300w_reader_code_reads_synthface(tmp_path):
    root = generate_synthface(tmp_path / "sf", SynthFaceConfig(image_size=96).with_sizes(6, 4, 2))
    dataset = SynthFace(root, "common")
    pairs, orphans, unannotated = annotated_images(root / "common")
    assert len(pairs) == len(dataset) == 4 and not orphans and not unannotated
    by_path = {str(image): pts for image, pts in pairs}
    for item in dataset:
        pts = by_path[item["path"]]
        np.testing.assert_array_equal(read_pts(pts).astype(np.float32), item["landmarks"])
        np.testing.assert_array_equal(load_image(item["path"]), item["image"])
