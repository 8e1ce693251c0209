"""Typed run configs: defaults that work, round trips, unknown keys, overrides."""

import pytest

from deeprnn.tasks.registry import get_task, task_names
from deeprnn.training import (
    OptimConfig,
    TrainerConfig,
    apply_overrides,
    from_dict,
    parse_value,
    run_config_from_dict,
    to_dict,
)


@pytest.mark.parametrize("task", ["classify", "tag", "forecast", "lm"])
def test_every_task_config_round_trips(task):
    run = run_config_from_dict({"task": task})
    data = to_dict(run)
    assert data["task"] == task
    again = run_config_from_dict(data)
    assert again == run
    spec = get_task(task)
    assert isinstance(again.model, spec.model_config)
    assert isinstance(again.data, spec.data_config)


def test_registered_tasks():
    assert {"classify", "tag", "forecast", "lm"} <= set(task_names())


def test_unknown_key_lists_valid_keys_and_suggests_the_closest():
    with pytest.raises(
        ValueError, match=r"unknown key 'max_epoch' \(did you mean 'max_epochs'\?\)"
    ):
        run_config_from_dict({"trainer": {"max_epoch": 3}})
    with pytest.raises(ValueError, match=r"valid keys: .*batch_size"):
        run_config_from_dict({"trainer": {"max_epoch": 3}})
    with pytest.raises(ValueError, match=r"config.model.rnn has unknown key 'hiden_size'"):
        run_config_from_dict({"task": "classify", "model": {"rnn": {"hiden_size": 3}}})
    with pytest.raises(ValueError, match=r"unknown key 'epochs'"):
        run_config_from_dict({"epochs": 3})


def test_unknown_task_suggests():
    with pytest.raises(
        ValueError, match=r"task must be one of .* got 'clasify' \(did you mean 'classify'\?\)"
    ):
        run_config_from_dict({"task": "clasify"})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"lr": "fast"}, r"optim.lr must be a number, got 'fast'"),
        ({"lr": -1.0}, r"optim.lr must be positive, got -1.0"),
        ({"name": "adamm"}, r"optim.name must be one of .* got 'adamm' \(did you mean 'adam'\?\)"),
        ({"nesterov": "yes"}, r"optim.nesterov must be true or false, got 'yes'"),
        ({"scheduler": {"name": "cosin"}}, r"did you mean 'cosine'"),
    ],
)
def test_bad_values_name_the_key_and_value(data, match):
    with pytest.raises(ValueError, match=match):
        from_dict(OptimConfig, data, "optim")


def test_trainer_validation():
    with pytest.raises(ValueError, match=r"batch_size must be >= 1 or null \(auto\), got 0"):
        from_dict(TrainerConfig, {"batch_size": 0}, "trainer")
    with pytest.raises(ValueError, match="gradient_clip_norm must be positive"):
        from_dict(TrainerConfig, {"gradient_clip_norm": 0.0}, "trainer")


def test_overrides_and_values():
    assert parse_value("3") == 3
    assert parse_value("1e-3") == pytest.approx(1e-3)
    assert parse_value("[64, 32]") == [64, 32]
    assert parse_value("null") is None
    assert parse_value("lstm") == "lstm"
    cfg = apply_overrides({"trainer": {"max_epochs": 1}}, [("trainer.max_epochs", 5), ("a.b.c", 1)])
    assert cfg == {"trainer": {"max_epochs": 5}, "a": {"b": {"c": 1}}}
    with pytest.raises(ValueError, match=r"trainer\.max_epochs is 5, not a section"):
        apply_overrides(cfg, [("trainer.max_epochs.x", 1)])


def test_an_optional_key_names_null_among_its_choices():
    with pytest.raises(ValueError, match=r"model.revin must be true or false or null, got 'yes'"):
        run_config_from_dict({"task": "forecast", "model": {"revin": "yes"}})
    assert run_config_from_dict({"task": "forecast", "model": {"revin": None}}).model.revin is None
