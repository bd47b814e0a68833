"""ffld.recipe and ffld.paper: the Sect. 6.6 recipe as configs, its schedule and the runtime settings."""

import numpy as np
import pytest

from ffld.paper import RECIPE, TABLE1_300W, TABLE6_GRADIENTS, speed_memory_anchors
from ffld.recipe import RECIPE_FIELDS, lr_schedule, recipe_table, runtime_flags
from ffld.train import load_config


def test_lr_schedule_is_the_step_decay():
    rates = lr_schedule(load_config("300w"))
    assert rates.shape == (400,)
    assert rates[0] == rates[79] == 5e-4 and rates[80] == pytest.approx(1.5e-4) and rates[399] == pytest.approx(
        5e-4 * 0.3**4)  # fmt: skip
    np.testing.assert_allclose(lr_schedule(load_config("300w-baseline"))[[0, 50, 349]], [1e-4, 3e-5, 1e-4 * 0.3**6])


def test_recipe_table_has_a_row_per_field_and_a_column_per_config():
    lines = recipe_table(["300w-baseline", "300w"]).splitlines()
    assert lines[0] == "| | `300w-baseline` | `300w` |" and len(lines) == 2 + len(RECIPE_FIELDS)
    assert "| starts from | scratch | 300w-baseline |" in lines
    assert "| AL filter | – | 3×3, σ 1, patience 10 |" in lines


def test_runtime_flags_follow_the_device():
    config = load_config("300w", {"runtime.sync_batchnorm": True})
    assert runtime_flags(config, "cpu") == {"bf16 autocast": False, "channels_last": False, "SyncBatchNorm": False,
                                            "torch.compile": False, "batch per process": 64}  # fmt: skip
    gpus = runtime_flags(config, "cuda", processes=4)
    assert gpus["bf16 autocast"] and gpus["channels_last"] and gpus["SyncBatchNorm"]
    assert gpus["batch per process"] == 16


def test_paper_numbers_are_consistent():
    assert TABLE6_GRADIENTS[True, True] == TABLE1_300W["inter-ocular"]["ResNet18-FFLD"][2] == 3.66
    assert RECIPE["ffld"]["epochs"] == 400 and len(speed_memory_anchors()) == 6
