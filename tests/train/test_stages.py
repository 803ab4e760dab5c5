"""Stages (TrainConfig.stages): an autoencoder, then its learned prior fitted to the frozen
codes, in one run with one resume (VQ-VAE's recipe, van den Oord et al. 2017, Sec. 3.2)."""
import json
from types import SimpleNamespace

import pytest
import torch

import unidgm
from unidgm.errors import ConfigError
from unidgm.inference.terms import PriorFit
from unidgm.nets import MLP
from unidgm.train import TrainConfig, Trainer

STAGES = ({"phases": ["elbo"], "max_steps": 8}, {"phases": ["prior"], "max_steps": 6})


def _model():
    torch.manual_seed(0)
    g = unidgm.Graph("ae")
    g.visible("x", "normal", shape=(4,))
    g.latent("z", "normal", shape=(2,), prior="learned")
    g.generative("z", "x", MLP(2, [8], 8))
    g.inference("x", "z", MLP(4, [8], 2), deterministic=True)
    return unidgm.compile(g, "elbo", terms=[PriorFit("z")])


def _data():
    g = torch.Generator().manual_seed(1)
    return SimpleNamespace(train={"x": torch.randn(64, 4, generator=g) * 2 + 1},
                           val={"x": torch.randn(16, 4, generator=g)}, test=None)


def _autoencoder(model):
    return [p.detach().clone() for k in ("generative_x", "inference_z") for p in model.nets[k].parameters()]


def _options(**extra):
    return dict(batch_size=16, stages=STAGES, progress=False, device="cpu", lr=1e-2, **extra)


def test_the_second_stage_fits_the_prior_and_leaves_the_autoencoder_bit_for_bit():
    model = _model()
    assert [p.name for p in model.phases] == ["prior", "elbo"]
    assert [p.groups for p in model.phases] == [("prior_z",), ("generative", "inference")]
    prior_before = model.learned_priors["z"].detach().clone()
    seen = {}

    class AtTheEndOfStageOne:
        def on_step_end(self, trainer, step, terms):
            if step == 8:
                seen["autoencoder"], seen["prior"] = _autoencoder(model), model.learned_priors["z"].detach().clone()

    Trainer(model, _data(), callbacks=[AtTheEndOfStageOne()], **_options()).fit()
    assert torch.equal(seen["prior"], prior_before)  # stage 1 leaves the prior alone
    assert not all(torch.equal(a, b) for a, b in zip(seen["autoencoder"], _autoencoder(_model())))  # and trains
    assert all(torch.equal(a, b) for a, b in zip(seen["autoencoder"], _autoencoder(model)))  # stage 2: frozen
    assert not torch.equal(model.learned_priors["z"], prior_before)  # and the prior fitted


def test_one_run_runs_both_stages_and_resumes_exactly_inside_the_second(tmp_path):
    data = _data()
    whole = _model()
    summary = Trainer(whole, data, **_options(out=str(tmp_path / "whole"))).fit()
    assert summary["steps"] == 14 and summary["stopped_by"] == "stages"
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert "train/prior/prior_fit_z" in records[-1] and "train/elbo/loss" not in records[-1]
    assert "train/elbo/loss" in records[1] and "train/prior/prior_fit_z" not in records[1]

    # the same run stopped at step 11, inside stage 2, then resumed
    part = _model()
    Trainer(part, data, **_options(out=str(tmp_path / "part"), max_steps=11)).fit()
    resumed = Trainer(_model(), data, resume=True, out=str(tmp_path / "part"), max_steps=None)
    assert resumed.stage == 1
    assert resumed.fit()["steps"] == 14
    for a, b in zip(whole.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_stages_are_checked():
    with pytest.raises(ConfigError, match=r"stages\[0\]"):
        TrainConfig(stages=({"phases": ["elbo"]},))
    with pytest.raises(ConfigError, match=r"stages\[1\]\['epochs'\]"):
        TrainConfig(stages=({"phases": ["elbo"], "epochs": 1}, {"phases": ["prior"], "epochs": 0}))
    with pytest.raises(ConfigError, match=r"names phase\(s\) \['decoder'\]"):
        Trainer(_model(), _data(), stages=({"phases": ["decoder"], "max_steps": 2},), progress=False)
    assert TrainConfig.from_dict(TrainConfig(stages=STAGES).to_dict()) == TrainConfig(stages=STAGES)


SHARES = ({"phases": ("elbo",), "share": 0.75}, {"phases": ("prior",), "share": 0.25})


class Ran:
    """Counts the steps that ran each stage's phase, read off each step's last terms."""

    def __init__(self):
        self.elbo = self.prior = 0

    def on_step_end(self, trainer, step, terms):
        if "prior_fit_z" in terms:
            self.prior += 1
        else:
            self.elbo += 1

    def __eq__(self, other):
        return (self.elbo, self.prior) == other


def _fit(model, **options):
    ran = Ran()
    options = {"batch_size": 16, "progress": False, "device": "cpu", "eval_every": 10**6, **options}
    trainer = Trainer(model, _data(), callbacks=[ran], **options)
    return trainer, trainer.fit(), ran


def test_shares_split_the_runs_step_budget():
    _, summary, ran = _fit(_model(), stages=SHARES, max_steps=12)
    assert summary["steps"] == 12 and ran == (9, 3)  # 0.75 * 12 steps, then 3
    assert _fit(_model(), stages=SHARES, epochs=2)[2] == (6, 2)  # 2 epochs of 4 steps


def test_shares_of_minutes_end_each_stage_at_its_share_of_the_time(tmp_path):
    _, summary, ran = _fit(_model(), stages=SHARES, minutes=0.03, out=str(tmp_path / "run"))
    assert summary["stopped_by"] == "minutes" and ran.elbo > ran.prior > 0  # three quarters of the time, then one
    ended = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["stage_ends"]
    assert ended == [ran.elbo, None]  # where stage 1 ended, kept for a resume


def test_a_model_carries_its_own_recipe_which_a_config_overrides():
    def graph():
        torch.manual_seed(0)
        g = unidgm.Graph("ae")
        g.visible("x", "normal", shape=(4,))
        g.latent("z", "normal", shape=(2,), prior="learned")
        g.generative("z", "x", MLP(2, [8], 8))
        g.inference("x", "z", MLP(4, [8], 4))
        return g.set_objective("elbo", terms=[PriorFit("z")], stages=SHARES)

    model = unidgm.compile(graph())
    assert [p.name for p in model.phases] == ["prior", "elbo"] and model.training_defaults()["stages"] == SHARES
    trainer, _, ran = _fit(model, max_steps=8)
    assert trainer.config.stages == SHARES and ran == (6, 2)
    joint = _fit(unidgm.compile(graph()), max_steps=8, stages=({"phases": ["elbo", "prior"], "share": 1.0},))[0]
    assert joint._stage_phases == [[0, 1]]  # both phases every step: trained jointly instead
    other = unidgm.compile(graph(), "iwae", k=2)  # another objective: the graph's recipe is not its own
    assert other.stages is None and [p.name for p in other.phases] == ["iwae"]


def test_recipes_are_checked():
    with pytest.raises(ConfigError, match="shares that sum to 1"):
        TrainConfig(stages=({"phases": ["elbo"], "share": 0.5},))
    with pytest.raises(ConfigError, match="budgets of one kind"):
        TrainConfig(stages=({"phases": ["elbo"], "share": 0.5}, {"phases": ["prior"], "epochs": 1}))
    with pytest.raises(ConfigError, match=r"stages\[0\]\['share'\]"):
        TrainConfig(stages=({"phases": ["elbo"], "share": 1.5},))
    g = _model().graph
    with pytest.raises(ConfigError, match=r"stages\[1\] names phase\(s\) \['critic'\]"):
        unidgm.compile(g, "elbo", terms=[PriorFit("z")], stages=({"phases": ["elbo"], "share": 0.5},
                                                                  {"phases": ["critic"], "share": 0.5}))
