"""The FFLD network: shapes (Fig. 4), parameter count (Sect. 6.5), zero-initialised CropNets, gradient paths."""

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ffld.crop import crop_patches
from ffld.models import FFLD


def _conv_bn(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + 2 * cout


def _basic_block(cin: int, cout: int, stride: int) -> int:
    projection = _conv_bn(cin, cout, 1) if stride != 1 or cin != cout else 0
    return _conv_bn(cin, cout, 3) + _conv_bn(cout, cout, 3) + projection


def expected_parameters(num_landmarks: int) -> int:
    """Hand count for a 3-stage 25%-width ResNet18-FFLD (Sect. 3, Table 7)."""
    n2 = 2 * num_landmarks
    backbone = _conv_bn(3, 16, 7)
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2), (128, 2)):
        backbone += _basic_block(cin, cout, stride) + _basic_block(cout, cout, 1)
        cin = cout
    head = 128 * n2 + n2
    cropnet = 2 * 4 * num_landmarks + _basic_block(4 * num_landmarks, 128, 1) + 128 * n2 + n2
    selection = (32 + 16 + 16) * 4
    return backbone + head + 3 * cropnet + selection


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("num_landmarks", [19, 29, 68, 98])
def test_parameter_count_matches_hand_count(num_landmarks):
    assert count(FFLD(num_landmarks)) == expected_parameters(num_landmarks)


def test_paper_parameter_count_is_reproduced_for_aflw19():
    """Sect. 6.5: 1.46M parameters for the 3-stage ResNet18-FFLD, reached with N = 19 landmarks."""
    assert abs(count(FFLD(19)) - 1.46e6) / 1.46e6 < 0.01


@pytest.mark.parametrize(("backbone", "channels"), [("resnet18", (16, 16, 32)), ("resnet50", (16, 64, 128))])
def test_feature_levels_at_224(backbone, channels):
    model = FFLD(68, backbone=backbone, stages=3).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 224, 224))
    sizes = [tuple(f.shape[1:]) for f in out.features]
    assert sizes == [(channels[0], 112, 112), (channels[1], 56, 56), (channels[2], 28, 28)]  # Fig. 4: 28×28×32
    assert len(out.stages) == 4 and len(out.deltas) == 3
    assert all(s.shape == (1, 68, 2) for s in out.stages)


def test_stage_k_crops_level_4_minus_k():
    model = FFLD(5)
    assert model.stage_levels == [3, 2, 1]
    assert [r.stride for r in model.refinements] == [8, 4, 2]


def test_refinement_crops_at_the_mapped_location():
    torch.manual_seed(0)
    refinement = FFLD(3).refinements[0]  # level 3, stride 8
    features = torch.randn(2, 32, 28, 28)
    points = torch.rand(2, 3, 2) * 200
    expected = crop_patches(features, points / 8, 8)
    batch, n, c, s, _ = expected.shape
    expected = refinement.select(expected.reshape(batch * n, c, s, s)).reshape(batch, n, -1, s, s)
    torch.testing.assert_close(refinement.crop(features, points), expected)


@pytest.mark.parametrize("train", [True, False])
def test_zero_initialised_cropnets_leave_the_prediction_unchanged(train):
    model = FFLD(68).train(train)
    out = model(torch.rand(64 if train else 2, 3, 224, 224))
    assert torch.equal(out.stages[3], out.stages[0])
    if train:  # the full-size forward + backward of the issue, on CPU
        sum(s.sum() for s in out.stages).backward()
        assert model.backbone.conv1.weight.grad is not None


def test_baseline_only():
    out = FFLD(10, stages=0)(torch.rand(2, 3, 64, 64))
    assert len(out.stages) == 1 and out.deltas == []


def test_init_mean_shape_puts_s0_on_it():
    model = FFLD(4, stages=0)
    shape = torch.tensor([[10.0, 20.0], [50.5, 21.0], [30.0, 40.0], [0.0, 63.0]])
    model.init_mean_shape(shape, (64, 80))
    out = model(torch.rand(2, 3, 80, 64))
    torch.testing.assert_close(out.stages[0], shape.expand(2, -1, -1), rtol=0, atol=1e-6)


def test_coordinates_stay_float32_under_autocast():
    model = FFLD(6).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(1, 3, 96, 96))
    assert all(s.dtype == torch.float32 for s in out.stages)


class _RecordOps(TorchDispatchMode):
    """Records the name of every ATen operation dispatched while active."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("stages", [0, 3])
def test_forward_makes_no_tensor_from_host_data(stages):
    """``torch.tensor``/``new_tensor`` inside the forward pass copy host data to the device and synchronise, which
    CUDA graph capture forbids (``ffld bench --mode cudagraph``); such tensors show up as ``aten.lift_fresh``."""
    model = FFLD(68, stages=stages).eval()
    with torch.no_grad(), _RecordOps() as recorded:
        model(torch.rand(1, 3, 96, 96))
    assert len(recorded.names) > 50  # the recorder saw the whole forward pass
    assert not [name for name in recorded.names if "lift_fresh" in name]


def _stage1_gradients(model: FFLD, images: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of a loss on ΔS1 alone (a refinement loss), by parameter name."""
    model.zero_grad()
    (model(images).deltas[0] * weights).sum().backward()
    return {
        name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for name, p in model.named_parameters()
    }


@pytest.fixture(scope="module")
def gradient_case():
    torch.manual_seed(0)
    model = FFLD(6, stages=1).double().eval()  # eval: BatchNorm statistics do not depend on the batch
    model.init_mean_shape(torch.rand(6, 2) * 60 + 18, (96, 96))  # S0 inside the image, where crops see features
    nn.init.normal_(model.head.weight, std=0.01)
    for refinement in model.refinements:  # a trained-looking CropNet, so that ΔS depends on its input
        nn.init.normal_(refinement.cropnet.fc.weight, std=0.1)
    images = torch.rand(2, 3, 96, 96, dtype=torch.float64)
    weights = torch.randn(2, 6, 2, dtype=torch.float64)
    gradients = {}
    for low_level in (False, True):
        for crop_location in (False, True):
            model.grad_low_level, model.grad_crop_location = low_level, crop_location
            gradients[low_level, crop_location] = _stage1_gradients(model, images, weights)
    return gradients


def test_gradient_paths_reach_what_table6_says(gradient_case):
    """Stage 1 crops level 3 (layer2): layer2 is reached through the crops' features (∇low_level); the head
    and layer3/4, which only shape S0, are reached only through the crop location (∇crop_location)."""

    def reached(flags, prefix):
        return any(g.abs().sum() > 0 for name, g in gradient_case[flags].items() if name.startswith(prefix))

    for low_level in (False, True):
        for crop_location in (False, True):
            flags = (low_level, crop_location)
            assert reached(flags, "head.") == crop_location
            assert reached(flags, "backbone.layer4.") == crop_location
            assert reached(flags, "backbone.layer2.") == (low_level or crop_location)
            assert reached(flags, "refinements.0.cropnet.")  # the CropNet always learns from its loss


def test_gradients_add_up_as_eq18(gradient_case):
    """∇ through both paths = ∇low_level + ∇crop_location (Eq. 18, without the baseline's own loss)."""
    for name, both in gradient_case[True, True].items():
        if name.startswith("backbone."):
            total = gradient_case[True, False][name] + gradient_case[False, True][name]
            torch.testing.assert_close(both, total, rtol=1e-10, atol=1e-12)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="stages"):
        FFLD(68, stages=4)
    with pytest.raises(ValueError, match="backbone"):
        FFLD(68, backbone="vgg16")
