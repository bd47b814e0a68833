"""Training configs: the built-in ones parse, and bad files are refused with the file and key named."""

import re

import pytest
import yaml

from ffld.train.config import CONFIG_DIR, RESUMABLE, ConfigError, config_to_dict, load_config, resume_differences


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_configs_load(path):
    config = load_config(path.stem)
    assert len(config.losses) == config.model.stages + 1
    assert config.optimizer.weight_decay == 5e-4 and config.optimizer.batch_size == 64  # Sect. 6.6


def test_paper_schedules():
    baseline, ffld = load_config("300w-baseline"), load_config("300w")
    assert (baseline.optimizer.lr, baseline.optimizer.lr_step, baseline.optimizer.epochs) == (1e-4, 50, 350)
    assert (ffld.optimizer.lr, ffld.optimizer.lr_step, ffld.optimizer.epochs) == (5e-4, 80, 400)
    assert ffld.losses == ["iod_l2", "l2", "l1", "align"] and ffld.optimizer.lr_gamma == 0.3
    aflw = load_config("aflw-baseline")
    assert (aflw.optimizer.lr, aflw.optimizer.lr_step, aflw.optimizer.epochs, aflw.data.balance) == (1e-4, 8, 56, "pdb")


def test_overrides_replace_values():
    config = load_config("300w", {"optimizer.epochs": 3, "model.grad_low_level": False})
    assert config.optimizer.epochs == 3 and config.model.grad_low_level is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizer:\n  learning_rate: 1\n", "unknown key(s) optimizer.learning_rate"),
        ("colour: red\n", "unknown key(s) colour"),
        ("model:\n  stages: 2\n", "losses: 4 given for 3 predictions"),
        ("losses: [align, l2, l1, l1]\n", "Align Loss needs a refinement stage"),
        ("losses: [iod_l2, l2, l1, l3]\n", "unknown loss 'l3'"),
        ("data: [1, 2]\n", "data must be a mapping"),
        ("- 1\n- 2\n", "a config must be a mapping of sections (data:, model:, ...), got a list"),
        ("just a sentence\n", "a config must be a mapping of sections (data:, model:, ...), got a str"),
        ("optimizer: {epochs: [\n", "cannot read the config"),
        # values of the wrong type or out of range
        ("runtime:\n  bf16: 'false'\n", "runtime.bf16: expected 'auto' or true/false, got 'false'"),
        ("runtime:\n  channels_last: 1\n", "runtime.channels_last: expected 'auto' or true/false, got 1"),
        ("runtime:\n  compile: 'no'\n", "runtime.compile: expected true/false, got 'no'"),
        ("optimizer:\n  epochs: 2.5\n", "optimizer.epochs: expected an integer, got 2.5"),
        ("optimizer:\n  batch_size: true\n", "optimizer.batch_size: expected an integer, got True"),
        ("optimizer:\n  lr: fast\n", "optimizer.lr: expected a number, got 'fast'"),
        ("optimizer:\n  lr: .nan\n", "optimizer.lr: expected a number, got nan"),
        ("optimizer:\n  lr:\n", "optimizer.lr: expected a number, got None"),
        ("losses: [iod_l2, 2, l1, align]\n", "losses: expected [a string, ...], got ['iod_l2', 2, 'l1', 'align']"),
        ("loss_weights: 1\n", "loss_weights: expected [a number, ...] or null, got 1"),
        ("data:\n  test: common\n", "data.test: expected [a string, ...], got 'common'"),
        ("data:\n  root: 3\n", "data.root: expected a string or null, got 3"),
        ("data:\n  synthface: [1]\n", "data.synthface: expected a mapping, got [1]"),
        ("align:\n  patience: 1.5\n", "align.patience: expected an integer or null, got 1.5"),
        ("runtime:\n  eval_every: 0\n", "runtime.eval_every: must be at least 1"),
        ("runtime:\n  checkpoint_every: -1\n", "runtime: checkpoint_every and workers must not be negative"),
        ("runtime:\n  workers: -2\n", "runtime: checkpoint_every and workers must not be negative"),
        # numbers of the right type outside their range (ffld.train.bounds), refused before any data are prepared
        ("optimizer:\n  lr: 0\n", "optimizer.lr: must be > 0, got 0.0"),
        ("optimizer:\n  lr_gamma: 0\n", "optimizer.lr_gamma: must be > 0, got 0.0"),
        ("optimizer:\n  weight_decay: -1\n", "optimizer.weight_decay: must not be negative, got -1.0"),
        ("data:\n  input_size: 0\n", "data.input_size: must be at least 1, got 0"),
        ("data:\n  enlarge: 0\n", "data.enlarge: must be > 0, got 0.0"),
        ("model:\n  width: 0\n", "model.width: must be > 1/128 (at least one channel in every layer), got 0.0"),
        (
            "model:\n  width: 0.0078125\n",  # 64 / 128 = 0.5 channels, rounded to none
            "model.width: must be > 1/128 (at least one channel in every layer), got 0.0078125",
        ),
        ("model:\n  backbone: resnet99\n", "model.backbone: 'resnet99' is not one of ['resnet18', 'resnet50']"),
        ("model:\n  stages: 4\nlosses: [iod_l2, l2, l1, l1, align]\n", "model.stages: must be 0 to 3"),
        ("model:\n  patch_size: 0\n", "model.patch_size: must be at least 1, got 0"),
        ("align:\n  sigma: -1\n", "align.sigma: must be > 0, got -1.0"),
        ("align:\n  kernel_size: 2\n", "align.kernel_size: must be odd and positive, got 2"),
        ("align:\n  patience: 0\n", "align.patience: must be at least 1 (or null to keep the filter), got 0"),
        ("augment:\n  flip: 2\n", "augment.flip: must be a probability in [0, 1], got 2.0"),
        ("augment:\n  scale: 1.5\n", "augment.scale: must be in [0, 1), got 1.5"),
        ("augment:\n  rotate: -5\n", "augment.rotate: must not be negative, got -5.0"),
        ("runtime:\n  seed: -1\n", "runtime.seed: must not be negative, got -1"),
        ("loss_weights: [1, -1, 1, 1]\n", "loss_weights: must not be negative"),
        (
            "data:\n  synthface: {foo: 1, train: {bar: 2}}\n",
            "unknown key(s) data.synthface.foo, data.synthface.train.bar",
        ),
        ("data:\n  synthface: {train: 3}\n", "data.synthface.train: expected a mapping, got 3"),
        ("data:\n  synthface: {image_size: 10}\n", "data.synthface: image_size must be >= 64, got 10"),
    ],
)
def test_bad_configs_name_the_file_and_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_a_bad_override_is_named_as_one(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text("data:\n  dataset: 300vw\n  train: train\n  test: ['3']\n")
    load_config(path)
    with pytest.raises(ConfigError) as error:
        load_config(path, {"data.test": [4], "optimizer.epochs": 2})
    assert str(error.value) == (
        f"{path} with data.test, optimizer.epochs overridden: data.test: expected [a string, ...], got [4]"
    )


def test_missing_config_lists_the_builtin_ones():
    with pytest.raises(ConfigError, match=r"built-in: .*300w"):
        load_config("no-such-config")


def test_a_folder_named_like_a_built_in_config_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "300w").mkdir()  # e.g. the dataset kept beside the runs
    assert load_config("300w").optimizer.epochs == 400


def test_paths_expand_the_home_folder(monkeypatch):
    monkeypatch.setenv("HOME", "/home/reader")
    overrides = {"data.root": "~/300W", "init": "~/runs/base/model.safetensors", "output": "~/runs/ffld"}
    config = load_config("300w", overrides)
    assert (config.data.root, config.init, config.output) == (
        "/home/reader/300W",
        "/home/reader/runs/base/model.safetensors",
        "/home/reader/runs/ffld",
    )


def test_numbers_given_as_strings_or_ints_become_floats():
    """``--set optimizer.lr=5e-4`` reaches the config as the string "5e-4" (YAML 1.1 needs a dot for a float)."""
    assert yaml.safe_load("5e-4") == "5e-4"
    config = load_config("300w", {"optimizer.lr": "5e-4", "align.sigma": 2, "loss_weights": [1, "0.5", 2, 1]})
    assert type(config.optimizer.lr) is float and config.optimizer.lr == 5e-4
    assert type(config.align.sigma) is float and config.align.sigma == 2.0
    assert config.loss_weights == [1.0, 0.5, 2.0, 1.0] and all(type(w) is float for w in config.loss_weights)
    flags = load_config("300w", {"runtime.bf16": False, "runtime.channels_last": "auto", "align.patience": None})
    assert (flags.runtime.bf16, flags.runtime.channels_last, flags.align.patience) == (False, "auto", None)


def test_overrides_fill_empty_sections_and_refuse_non_mappings(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("align:\nruntime:\n")
    config = load_config(path, {"align.sigma": 2.0, "runtime.seed": 3})
    assert (config.align.sigma, config.align.kernel_size, config.runtime.seed) == (2.0, 3, 3)
    path.write_text("align: 3\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: align must be a mapping to set align\.sigma"):
        load_config(path, {"align.sigma": 2.0})
    path.write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: a config must be a mapping of sections"):
        load_config(path, {"runtime.seed": 1})


def test_resume_differences_ignore_only_the_resumable_keys():
    saved = config_to_dict(load_config("synthface-cpu"))
    harmless = {
        "optimizer.epochs": 9, "output": "elsewhere", "runtime.device": "cpu", "runtime.bf16": True,
        "runtime.channels_last": True, "runtime.compile": True, "runtime.workers": 2, "runtime.checkpoint_every": 5,
        "runtime.eval_every": 3, "init": "moved/baseline.safetensors", "data.root": "/new/disk/SynthFace",
    }  # fmt: skip
    assert set(harmless) == set(RESUMABLE)
    assert resume_differences(saved, config_to_dict(load_config("synthface-cpu", harmless))) == []
    changed = {"optimizer.lr": 0.05, "runtime.seed": 7, "runtime.sync_batchnorm": True, "data.synthface.seed": 4}
    assert resume_differences(saved, config_to_dict(load_config("synthface-cpu", changed))) == [
        "data.synthface.seed: (absent) → 4",
        "optimizer.lr: 0.001 → 0.05",
        "runtime.seed: 0 → 7",
        "runtime.sync_batchnorm: False → True",
    ]
