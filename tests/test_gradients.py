"""ffld.gradients: the three terms of Eq. 18 add up to the whole gradient, and each switch removes its own."""

import pytest
import torch

from ffld.gradients import GRADIENTS, first_stage_gradients
from ffld.models import FFLD


@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    model = FFLD(3, stages=1).double().eval()
    torch.nn.init.normal_(model.refinements[0].cropnet.fc.weight, std=0.05)
    torch.nn.init.normal_(model.head.weight, std=1e-3)
    images = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    target = torch.tensor([[[20.0, 24.0], [40.0, 24.0], [30.0, 44.0]]], dtype=torch.float64)
    return model, images, target


def test_eq18_three_gradients_sum_to_the_total(model_and_data):
    model, images, target = model_and_data
    gradients = first_stage_gradients(model, images, target)
    assert set(gradients) == set(GRADIENTS)
    assert gradients["total"].shape == (1, 32, 8, 8)  # level 3, stride 8
    for name in GRADIENTS:
        assert gradients[name].abs().sum().item() > 0, name
    summed = gradients["low_level"] + gradients["crop_location"] + gradients["standard"]
    torch.testing.assert_close(summed, gradients["total"], rtol=1e-10, atol=1e-12)
    assert model.grad_low_level and model.grad_crop_location  # switches restored


def test_low_level_gradient_is_confined_to_the_crops():
    """Eq. 9 re-projects the patch gradient onto the pixels the crop samples, and nowhere else."""
    torch.manual_seed(2)
    model = FFLD(1, stages=1).double().eval()
    torch.nn.init.normal_(model.refinements[0].cropnet.fc.weight, std=0.05)
    images = torch.rand(1, 3, 160, 160, dtype=torch.float64)
    target = torch.tensor([[[84.0, 76.0]]], dtype=torch.float64)
    model.init_mean_shape(target[0] + 3.0, (160, 160))  # S0 a few pixels off the truth
    gradients = first_stage_gradients(model, images, target)
    with torch.no_grad():
        x, y = (model(images).stages[0][0, 0] / 8).tolist()  # crop centre on level 3 (stride 8)
    rows, columns = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    support = ((columns - x).abs() < 4.5) & ((rows - y).abs() < 4.5)  # samples at ±3.5, neighbours ±1
    magnitude = gradients["low_level"][0].abs().sum(0)
    assert magnitude[support].sum().item() > 0
    assert magnitude[~support].max().item() == 0.0


def test_zero_initialised_cropnet_gives_no_low_level_gradient():
    torch.manual_seed(1)
    model = FFLD(2, stages=1).double().eval()  # FC of the CropNet is zero (Sect. 6.6)
    torch.nn.init.normal_(model.head.weight, std=1e-3)
    images = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    target = torch.tensor([[[20.0, 24.0], [40.0, 30.0]]], dtype=torch.float64)
    gradients = first_stage_gradients(model, images, target)
    assert gradients["low_level"].abs().max().item() == 0.0
    assert gradients["crop_location"].abs().max().item() > 0.0


def test_model_without_refinement_is_refused():
    with pytest.raises(ValueError, match="no refinement"):
        first_stage_gradients(FFLD(2, stages=0), torch.rand(1, 3, 64, 64), torch.zeros(1, 2, 2))
