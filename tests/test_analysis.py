"""ffld.analysis and ffld.analysis_plots: benchmark tables, CEDs, ΔS statistics, worst cases, occlusion."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

from ffld.analysis import (
    boundary_error_table,
    boundary_errors,
    ced_points,
    concatenate,
    delta_statistics,
    errors_by_visibility,
    inter_pupil_evaluation,
    is_low_resolution,
    nme_table,
    renormalised,
    synthface_records,
    visibility_table,
    with_full,
    worst_cases,
)
from ffld.analysis_plots import (
    ced_figure,
    delta_histogram_figure,
    faces_figure,
    landmark_windows,
    qualitative_figure,
    schedule_figure,
)
from ffld.data.specs import IBUG68, inter_pupil
from ffld.data.synthetic import SynthFace, SynthFaceConfig, generate_synthface
from ffld.evaluate import Evaluation
from ffld.metrics import auc_fr, landmark_errors


def evaluation(faces: int, seed: int, stages: int = 2) -> Evaluation:
    """Random 68-landmark predictions around random truths, with inter-ocular normalisers."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(20, 200, size=(faces, 68, 2))
    predicted = truth[None] + rng.normal(scale=3.0, size=(stages + 1, faces, 68, 2))
    norms = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=-1)
    errors = np.stack([landmark_errors(p, truth, norms) for p in predicted])
    deltas = np.diff(predicted, axis=0)
    return Evaluation(predicted, deltas, truth, norms, errors, [f"{seed}/{i}.png" for i in range(faces)])


def test_concatenate_and_full():
    parts = {"common": evaluation(5, 0), "challenge": evaluation(3, 1)}
    full = with_full(parts)["full"]
    assert full.stages.shape == (3, 8, 68, 2) and full.deltas.shape == (2, 8, 68, 2) and len(full.paths) == 8
    np.testing.assert_array_equal(full.nme[:, :5], parts["common"].nme)
    np.testing.assert_array_equal(concatenate([parts["challenge"]]).errors, parts["challenge"].errors)
    # Scored on visible landmarks: the masks join too; mixed with an all-landmark evaluation, refused.
    masked = [dataclasses.replace(part, visible=part.errors[0] < 0.05) for part in parts.values()]
    np.testing.assert_array_equal(concatenate(masked).visible, np.concatenate([m.visible for m in masked]))
    with pytest.raises(ValueError, match="visible landmarks with ones scored on all"):
        concatenate([masked[0], parts["challenge"]])


def test_renormalised_errors_scale_with_the_normaliser():
    original = evaluation(4, 2)
    doubled = renormalised(original, 2 * original.norms)
    np.testing.assert_allclose(doubled.errors, original.errors / 2, rtol=1e-12)
    pupil = inter_pupil_evaluation(original, IBUG68)
    np.testing.assert_allclose(pupil.norms, inter_pupil(original.truth, IBUG68))


def test_nme_table_in_the_papers_layout():
    evaluations = {"A": with_full({"common": evaluation(5, 0), "challenge": evaluation(3, 1)})}
    text = nme_table(evaluations, ["common", "challenge", "full"], 0.08, reference={"A": (1.0, 2.0, 3.0)})
    header, rule, row = text.splitlines()
    assert header == "| method | common NME | challenge NME | full NME | full AUC@0.08 | full FR@0.08 |"
    assert rule == "|---|---|---|---|---|---|"
    full = evaluations["A"]["full"]
    auc, failure = auc_fr(full.nme[-1], 0.08)
    assert row.startswith(f"| A | {100 * evaluations['A']['common'].nme[-1].mean():.2f} (1.00) |")
    assert row.endswith(f"| {100 * full.nme[-1].mean():.2f} (3.00) | {100 * auc:.2f} | {100 * failure:.2f} |")


def test_delta_statistics_tell_gaussian_from_long_tails():
    rng = np.random.default_rng(0)
    gaussian = rng.normal(scale=2.0, size=(1, 20000, 5, 2))
    laplace = rng.laplace(scale=1.0, size=(1, 20000, 5, 2))
    normal, tailed = delta_statistics(np.concatenate([gaussian, laplace]))
    assert normal["std"] == pytest.approx(2.0, rel=0.02) and abs(normal["kurtosis"]) < 0.1
    assert normal["beyond4"] < 3e-4 and tailed["kurtosis"] == pytest.approx(3.0, abs=0.4)
    assert tailed["beyond4"] > 10 * normal["beyond4"] and normal["p99"] <= normal["max"]


def test_worst_cases_and_visibility():
    assert worst_cases(np.array([0.1, 0.5, 0.3, 0.5]), 3).tolist() == [1, 3, 2]
    errors = np.array([[[0.1, 0.3, 0.5], [0.1, 0.2, 0.7]]])  # 1 stage, 2 faces, 3 landmarks
    codes = np.array([[0, 1, 2], [0, 0, 1]])
    (row,) = errors_by_visibility(errors, codes)
    assert row[0] == pytest.approx(0.4 / 3) and row[1] == pytest.approx(0.5) and row[2] == pytest.approx(0.5)
    assert row["counts"] == {0: 3, 1: 2, 2: 1}
    table = visibility_table({"S0": row}).splitlines()
    assert table[0] == "| prediction | visible (3) | hidden by an occluder (2) | hidden by the face itself (1) |"
    assert table[2] == "| S0 | 13.33 | 50.00 | 50.00 |"


def test_synthface_records_follow_the_paths(tmp_path):
    config = SynthFaceConfig(seed=5, image_size=96).with_sizes(0, 2, 3)
    root = generate_synthface(tmp_path / "synth", config, workers=1)
    dataset = SynthFace(root, "full")
    paths = [dataset[i]["path"] for i in (4, 0, 2)]
    records = synthface_records(paths)
    assert [record["file"] for record in records] == [path.rsplit("/", 1)[1] for path in paths]
    for index, record in zip((4, 0, 2), records, strict=True):
        np.testing.assert_array_equal(np.asarray(record["visibility"]) != 0, dataset[index]["occluded"])
        assert is_low_resolution(record) == (record["degradations"]["downscale"] is not None)


def test_figures_are_labelled():
    full = evaluation(6, 3)
    plt.close(ced_figure({"a": full.nme[0], "b": full.nme[1]}, high=0.1, title="t", mark=0.08))
    plt.close(delta_histogram_figure(full.deltas, [8, 4]))
    images = [np.zeros((32, 32, 3), np.uint8)] * 2
    windows = landmark_windows(full.truth[:2])
    assert np.allclose(windows[:, 2] - windows[:, 0], windows[:, 3] - windows[:, 1])  # square
    assert (windows[:, :2] <= full.truth[:2].min(axis=1)).all() and (windows[:, 2:] >= full.truth[:2].max(axis=1)).all()
    hidden = np.zeros((2, 68), bool)
    hidden[0, :5] = True
    plt.close(faces_figure(images, full.truth[:2], {"p": full.stages[-1][:2]}, ["a", "b"], windows, hidden))
    plt.close(schedule_figure({"s": np.array([1e-3, 1e-3, 3e-4])}, "t"))
    rows = {"a": full.stages[0][:2], "b": full.stages[-1][:2]}
    zooms = landmark_windows(full.truth[:2, 36:42], enlarge=2.0)
    figure = qualitative_figure(images, full.truth[:2], rows, windows, zooms, {"a": [1.0, 2.0], "b": [0.5, 0.7]})
    assert len(figure.axes) == 2 * 4  # a row per model, a whole and a zoomed panel per face
    assert figure.axes[3].get_title() == "zoomed" and figure.axes[6].get_title() == "b: NME 0.70%"
    np.testing.assert_allclose(figure.axes[3].get_xlim(), zooms[1, [0, 2]])
    np.testing.assert_allclose(figure.axes[3].get_ylim(), zooms[1, [3, 1]])  # image rows grow downwards
    plt.close(figure)


def test_boundary_errors_by_hand():
    truth = np.array([[[10.0, 10.0], [50.0, 20.0]]])
    predictions = truth + np.array([[[3.0, 4.0], [2.0, 2.0]]])
    s = 1 / np.sqrt(2)
    tangents = np.array([[[1.0, 0.0], [s, s]]])  # a horizontal boundary, then a diagonal one
    split = boundary_errors(predictions, truth, tangents, np.array([10.0]))
    np.testing.assert_allclose(split["along"], [[0.3, 2 * np.sqrt(2) / 10]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(split["across"], [[0.4, 0.0]], rtol=0, atol=1e-15)  # (2, 2) runs along (s, s)
    # The two components make up the normalised error, at any direction.
    full = evaluation(3, 4)
    angles = np.random.default_rng(5).uniform(0, 2 * np.pi, size=(3, 68))
    random = boundary_errors(full.stages[1], full.truth, np.stack([np.cos(angles), np.sin(angles)], -1), full.norms)
    np.testing.assert_allclose(np.hypot(random["along"], random["across"]), full.errors[1], rtol=1e-12)
    with pytest.raises(ValueError, match="unit vectors"):
        boundary_errors(predictions, truth, 2 * tangents, np.array([10.0]))
    table = boundary_error_table({"p": split}, {"first": [0], "both": [0, 1]}).splitlines()
    assert table[0] == "| prediction | first along / across | both along / across |"
    both = (0.3 + 2 * np.sqrt(2) / 10) / 2, 0.4 / 2
    assert table[2] == f"| p | 30.00 / 40.00 | {100 * both[0]:.2f} / {100 * both[1]:.2f} |"


def test_ced_points_by_hand():
    thresholds, fractions = ced_points(np.array([0.01, 0.02, 0.02, 0.05]), 0.0, 0.04, count=5)
    np.testing.assert_allclose(thresholds, [0.0, 0.01, 0.02, 0.03, 0.04], rtol=0, atol=1e-15)
    np.testing.assert_allclose(fractions, [0.0, 0.25, 0.75, 0.75, 0.75], rtol=0, atol=1e-15)  # NME <= threshold
