"""Training configs: the built-in ones parse, and bad files are refused with the file and key named."""

import pytest

from ffld.train.config import CONFIG_DIR, ConfigError, load_config


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
        ("optimizer: {epochs: [\n", "cannot read the config"),
    ],
)
def test_bad_configs_name_the_file_and_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_missing_config_lists_the_builtin_ones():
    with pytest.raises(ConfigError, match=r"built-in: .*300w"):
        load_config("no-such-config")
