"""ffld.evaluate on a benchmark read from its official format: all landmarks, or the visible ones only; and the
command line's train-then-evaluate path on WFLW's files."""

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ffld.checkpoint import load_model, save_model
from ffld.cli import main
from ffld.data.image import ImageFileError
from ffld.data.prepared import prepare_faces
from ffld.data.registry import dataset_info, open_split
from ffld.evaluate import evaluate_checkpoint, evaluate_faces, visibility_mask
from ffld.models import FFLD
from tests.data_formats import cofw_variables, write_mat_v5, write_wflw

pytestmark = pytest.mark.filterwarnings("ignore:cofw subset test. 3 faces where the official protocol has 507")
METADATA = {"model": {"num_landmarks": 29, "stages": 1}, "input_size": 64, "enlarge": 1.25, "box": "dataset"}


@pytest.fixture(scope="module")
def cofw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A COFW test file of 3 faces with occlusion flags, and an untrained 1-stage model for its 29 landmarks."""
    root = tmp_path_factory.mktemp("cofw")
    variables, _, _, occlusion, _ = cofw_variables(np.random.default_rng(7), "test")
    write_mat_v5(root / "COFW_test_color.mat", variables)
    torch.manual_seed(0)
    model = FFLD(**METADATA["model"]).eval()
    save_model(root / "model.safetensors", model, METADATA)
    return root, root / "model.safetensors", occlusion.astype(bool)


def test_visible_only_averages_the_visible_landmarks(cofw: tuple[Path, Path, np.ndarray]) -> None:
    root, path, occluded = cofw
    every = evaluate_checkpoint(path, "cofw", str(root), convert=True)
    visible = evaluate_checkpoint(path, "cofw", str(root), convert=True, visible_only=True)
    assert (every["landmarks"], visible["landmarks"]) == ("all", "visible")
    assert every["faces"] == {"test": 3} and every["root"] == str(root.resolve())
    # By hand, from the per-landmark errors (inter-pupil normalised, COFW's normaliser).
    faces = prepare_faces(open_split("cofw", str(root), "test", convert=True), 64, 1.25, "dataset")
    errors = evaluate_faces(load_model(path)[0], faces, dataset_info("cofw")).errors  # (K+1, M, N)
    assert np.array_equal(visibility_mask(faces, "cofw"), ~occluded)
    for stage in range(2):
        by_hand = [e[~o].mean() for e, o in zip(errors[stage], occluded, strict=True)]
        assert visible["subsets"]["test"][stage]["nme"] == pytest.approx(100 * np.mean(by_hand), rel=1e-12)
        assert every["subsets"]["test"][stage]["nme"] == pytest.approx(100 * errors[stage].mean(), rel=1e-12)
    assert visible["subsets"]["test"][0]["nme"] != pytest.approx(every["subsets"]["test"][0]["nme"], rel=1e-6)


def test_datasets_without_visibility_are_refused(cofw: tuple[Path, Path, np.ndarray]) -> None:
    root, _, _ = cofw
    faces = prepare_faces(open_split("cofw", str(root), "test", convert=True), 64, 1.25, "dataset")
    faces.extras["occluded"][1] = True  # the second face: every landmark occluded, nothing to average
    with pytest.raises(ValueError) as error:
        visibility_mask(faces, "cofw")
    assert str(error.value) == (
        f"{root / 'COFW_test_color.mat'} [face 2]: no landmark is marked visible, so the face has no score on visible "
        "landmarks (1 such face(s) in 3; score them on all landmarks, without --visible-only)"
    )
    faces.extras.clear()
    with pytest.raises(ValueError, match="300w marks no landmark visibility"):
        visibility_mask(faces, "300w")


def test_the_command_line_scores_visible_landmarks(
    cofw: tuple[Path, Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    root, path, _ = cofw
    expected = evaluate_checkpoint(path, "cofw", str(root), convert=True, visible_only=True)["subsets"]["test"]
    command = ["evaluate", str(path), "--dataset", "cofw", "--root", str(root), "--convert", "--visible-only"]
    assert main([*command, "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = [f"test S{row['stage']}: NME {row['nme']:.2f}%" for row in expected]
    assert lines[0] == "cofw, NME normalised by inter-pupil:"
    assert [line.split(",")[0].strip() for line in lines[1:]] == shown


def test_subsets_are_named_once_and_their_size_checked(
    cofw: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, path, _ = cofw
    with pytest.raises(ValueError, match=r"^subset\(s\) test named more than once$"):
        evaluate_checkpoint(path, "cofw", str(root), ["test", "test"], convert=True)
    command = ["evaluate", str(path), "--dataset", "cofw", "--root", str(root), "--convert", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(command) == 0
    assert capsys.readouterr().err.splitlines() == [
        "ffld evaluate: warning: cofw subset test: 3 faces where the official protocol has 507; its scores are not "
        "comparable with published ones"
    ]

    with pytest.raises(ImageFileError, match="grayscale image"):  # the fixture's third face is grayscale
        evaluate_checkpoint(path, "cofw", str(root))
    trained = tmp_path / "trained.safetensors"  # a model trained on COFW with data.convert, as cofw.yaml does
    save_model(trained, load_model(path)[0], {**METADATA, "config": {"data": {"dataset": "cofw", "convert": True}}})
    scores = evaluate_checkpoint(trained, "cofw", str(root))["subsets"]
    assert scores == evaluate_checkpoint(path, "cofw", str(root), convert=True)["subsets"]


def test_an_empty_subset_is_named_with_its_root(tmp_path: Path) -> None:
    """Two WFLW test faces, neither blurred: the test:blur subset holds none."""
    write_wflw(tmp_path, flags=np.zeros((2, 6)))
    arguments = {"num_landmarks": 98, "stages": 1}
    save_model(tmp_path / "model.safetensors", FFLD(**arguments), {**METADATA, "model": arguments})
    with pytest.raises(ValueError) as error:
        evaluate_checkpoint(tmp_path / "model.safetensors", "wflw", str(tmp_path), ["test:blur"])
    assert str(error.value) == f"preparing wflw subset test:blur in {tmp_path}: the dataset holds no faces"


def test_another_normaliser_rescales_every_error(cofw: tuple[Path, Path, np.ndarray]) -> None:
    """COFW by its outer eye corners (points 8 and 9, 0-based) instead of its pupils: each landmark's distance is
    the same, divided by another per-face distance."""
    root, path, _ = cofw
    ocular = evaluate_checkpoint(path, "cofw", str(root), convert=True, normaliser="inter-ocular")
    assert ocular["normaliser"] == "inter-ocular"
    faces = prepare_faces(open_split("cofw", str(root), "test", convert=True), 64, 1.25, "dataset")
    by_pupils = evaluate_faces(load_model(path)[0], faces, dataset_info("cofw"))
    corners = np.linalg.norm(by_pupils.truth[:, 8] - by_pupils.truth[:, 9], axis=-1)
    for stage in range(2):
        distances = by_pupils.errors[stage] * by_pupils.norms[:, None]  # (M, N) pixels
        by_hand = 100 * (distances / corners[:, None]).mean()
        assert ocular["subsets"]["test"][stage]["nme"] == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError, match="unknown normaliser 'pupils'; choose one of inter-ocular, inter-pupil"):
        evaluate_checkpoint(path, "cofw", str(root), convert=True, normaliser="pupils")


def test_per_image_rows_are_told_apart_by_index(cofw: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    """All 3 COFW faces come from one .mat file: the CSV's index column names each face, and its NMEs are the
    per-face ones whose mean results.json reports."""
    import csv
    import hashlib

    root, path, _ = cofw
    results = evaluate_checkpoint(path, "cofw", str(root), convert=True, output=tmp_path)
    with open(tmp_path / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["subset"], row["index"]) for row in rows] == [("test", "0"), ("test", "1"), ("test", "2")]
    assert [row["source"] for row in rows] == [f"{root / 'COFW_test_color.mat'} [face {k}]" for k in (1, 2, 3)]
    assert results["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # which model was scored
    faces = prepare_faces(open_split("cofw", str(root), "test", convert=True), 64, 1.25, "dataset")
    nme = evaluate_faces(load_model(path)[0], faces, dataset_info("cofw")).nme  # (K+1, M)
    for stage in range(2):
        np.testing.assert_allclose([float(row[f"nme_S{stage}"]) for row in rows], 100 * nme[stage], rtol=1e-12)  # in %
        assert results["subsets"]["test"][stage]["nme"] == pytest.approx(100 * nme[stage].mean(), rel=1e-12)


def test_predictions_are_mapped_back_to_the_image_and_scored_by_hand(cofw: tuple[Path, Path, np.ndarray]) -> None:
    """A model whose output is a fixed shape P (crop pixels) predicts, for each face, P mapped back through the
    inverse of the crop of COFW's face box; the NME is then the mean landmark error over the pupils' distance
    (points 16 and 17), computed here from the reader's annotation alone."""
    from ffld.data import COFW
    from ffld.data.facecrop import apply_affine, crop_matrix, invert_affine

    root, _, _ = cofw
    shape = np.random.default_rng(5).uniform(10, 54, size=(29, 2))
    torch.manual_seed(0)
    model = FFLD(**METADATA["model"]).eval()
    model.init_mean_shape(torch.from_numpy(shape).float(), (64, 64))
    faces = prepare_faces(open_split("cofw", str(root), "test", convert=True), 64, 1.25, "dataset")
    evaluation = evaluate_faces(model, faces, dataset_info("cofw"))
    for index, item in enumerate(COFW(root, "test", convert=True)):
        expected = apply_affine(invert_affine(crop_matrix(item["box"], 64, 1.25)), shape)
        for stage in range(2):  # S1 = S0: the new CropNet's last layer starts at zero
            np.testing.assert_allclose(evaluation.stages[stage][index], expected, atol=1e-4)
        truth = item["landmarks"].astype(np.float64)
        pupils = np.linalg.norm(truth[16] - truth[17])
        nme = np.linalg.norm(expected - truth, axis=1).mean() / pupils
        assert evaluation.nme[0, index] == pytest.approx(nme, rel=1e-5)


def test_a_face_whose_pupils_coincide_is_named(tmp_path: Path) -> None:
    """COFW's normaliser is RCPR's distPup, the distance between points 17 and 18 (1-based; phis columns 17, 18 for
    x and 46, 47 for y): where face 2 marks both pupils at one position its NME is undefined, and the error names
    that face in its .mat file."""
    variables, *_ = cofw_variables(np.random.default_rng(7), "test")
    phis = variables["phisT"]
    phis[1, 17], phis[1, 29 + 17] = phis[1, 16], phis[1, 29 + 16]
    write_mat_v5(tmp_path / "COFW_test_color.mat", variables)
    torch.manual_seed(0)
    save_model(tmp_path / "model.safetensors", FFLD(**METADATA["model"]), METADATA)
    expected = (
        f"{tmp_path / 'COFW_test_color.mat'} [face 2]: the inter-pupil normaliser of this face is 0, so its NME is "
        "undefined (1 such face(s) in 3)"
    )
    with pytest.raises(ValueError) as error:
        evaluate_checkpoint(tmp_path / "model.safetensors", "cofw", str(tmp_path), convert=True)
    assert str(error.value) == expected


def test_the_builtin_wflw_config_trains_and_evaluates_from_the_official_files(tmp_path: Path) -> None:
    """A researcher's path on a real benchmark: ``ffld train wflw`` on WFLW's annotation lists and images, then
    ``ffld evaluate`` on the model it wrote, with the test set and its six attribute subsets. The evaluation's test
    NMEs are those the training run logged after its last epoch (the same faces, model and metric)."""
    root = tmp_path / "WFLW"
    write_wflw(root, "train")
    write_wflw(root, "test")  # the same 8 faces: one per attribute, one with none, one with all
    run, results = tmp_path / "run", tmp_path / "results"
    settings = [f"data.root={root}", f"output={run}", "optimizer.epochs=1", "optimizer.batch_size=4"]
    settings += ["data.input_size=32", "model.width=0.125", "runtime.workers=0", "runtime.device=cpu"]
    assert main(["train", "wflw", *(word for setting in settings for word in ("--set", setting))]) == 0
    model_file = run / "model.safetensors"
    command = ["evaluate", str(model_file), "--dataset", "wflw", "--root", str(root), "--device", "cpu"]
    assert main([*command, "--output", str(results)]) == 0

    evaluation = json.loads((results / "results.json").read_text())
    subsets = ["test:largepose", "test:expression", "test:illumination", "test:makeup", "test:occlusion", "test:blur"]
    assert evaluation["faces"] == {"test": 8, **dict.fromkeys(subsets, 2)}
    assert (evaluation["threshold"], evaluation["normaliser"]) == (0.10, "inter-ocular")
    with open(results / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 + 2 * len(subsets)
    first_image = root / "WFLW_images" / "0--Event" / "0_Event_image_0.jpg"
    assert rows[0]["source"] == f"{first_image} [list_98pt_rect_attr_test.txt:1]"
    with open(run / "metrics.csv", newline="") as handle:
        logged = list(csv.DictReader(handle))[-1]
    for stage, scores in enumerate(evaluation["subsets"]["test"]):
        assert scores["nme"] == pytest.approx(float(logged[f"test_nme_S{stage}"]), rel=1e-9)
    metadata = load_model(model_file)[1]
    assert (metadata["landmarks"], metadata["model"]["num_landmarks"], metadata["model"]["stages"]) == ("wflw98", 98, 3)
