"""TrainConfig: defaults derived once, JSON round trip, bad fields refused by name."""

import json

import pytest

from unidgm.errors import ConfigError, UnidgmError
from unidgm.train import TrainConfig, Trainer


def test_defaults_derive_ten_epochs_only_without_any_stopping_rule():
    assert TrainConfig().epochs == 10
    assert TrainConfig(max_steps=5).epochs is None
    assert TrainConfig(minutes=0.5).epochs is None


def test_round_trip_through_json():
    config = TrainConfig(
        max_steps=7, lr=3e-4, lr_groups={"inference": 1e-4}, optimizer="adamw",
        betas=(0.5, 0.9), grad_clip=1.0, out="runs/x", monitor="loss", monitor_mode="min",
    )
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.betas == (0.5, 0.9)


def test_from_dict_refuses_unknown_key_and_suggests_the_field():
    with pytest.raises(ConfigError, match="'batchsize'.*'batch_size'"):
        TrainConfig.from_dict({"batchsize": 3})


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("epochs", -1),
        ("minutes", 0),
        ("max_steps", 2.5),
        ("batch_size", 0),
        ("lr", -1e-3),
        ("lr", float("nan")),
        ("optimizer", "rmsprop"),
        ("betas", (1.5, 0.9)),
        ("weight_decay", -0.1),
        ("seed", -3),
        ("device", "gpu7"),
        ("eval_every", 0),
        ("log_every", 0),
        ("checkpoint_every", -5),
        ("monitor_mode", "up"),
        ("monitor", ""),
        ("eval_batch_size", 0),
        ("progress", "yes"),
        ("grad_clip", 0.0),
        ("lr_groups", {"inference": -1.0}),
    ],
)
def test_bad_field_raises_config_error_naming_it(field, value):
    with pytest.raises(ConfigError, match=field) as info:
        TrainConfig(**{field: value})
    assert isinstance(info.value, UnidgmError)


def test_trainer_refuses_unknown_override(fakes, data, quiet):
    with pytest.raises(ConfigError, match="'learning_rate'"):
        Trainer(fakes.TinyVAE(), data, learning_rate=0.1, **quiet)


def test_trainer_refuses_lr_for_unknown_group(fakes, data, quiet):
    with pytest.raises(ConfigError, match="lr_groups.*'decoder'"):
        Trainer(fakes.TinyVAE(), data, lr_groups={"decoder": 0.1}, **quiet)


def test_replace_checks_like_construction():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig().replace(batch_size=-1)
