"""The variational Wyner model (wyner, Ryu et al. 2022): its graph (three encoders of z, each
its own process), each term against the formula written out with the networks called
directly, weights of 0 switching terms off, training from Python and from the command line,
and its diagram."""
import json
import math
import shutil
import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F

import unidgm
from unidgm.data import load
from unidgm.errors import ConfigError
from unidgm.models import build
from unidgm.train import Trainer

B = 8
SVG = "{http://www.w3.org/2000/svg}"
OFF = {"lambda_joint": 0.0, "lambda_x2y": 0.0, "lambda_y2x": 0.0, "lambda_ci": 0.0, "lambda_rec": 0.0}


@pytest.fixture(scope="module")
def data():
    return load("digits-add1", binarize=None)


@pytest.fixture(scope="module")
def batch(data):
    return {k: v[:B] for k, v in data.train.items()}


def _model(**opts):
    torch.manual_seed(0)
    return unidgm.compile(build("wyner", x_shape=(1, 8, 8), hidden=(16,), z_dim=4, u_dim=3, v_dim=2, **opts)).eval()


def _nets(model):
    g = model.graph
    return {"E": g.edge_into("z", "inference").net, "E_x": g.edge_into("z", "inference", "q_x").net,
            "E_y": g.edge_into("z", "inference", "q_y").net, "L_u": g.edge_into("u", "inference").net,
            "L_v": g.edge_into("v", "inference").net, "G_x": g.edge_into("x", "generative").net,
            "G_y": g.edge_into("y", "generative").net}


def _cat(*ts):
    return torch.cat([t.flatten(1) for t in ts], 1)


def _critic(model, name):
    return model.objective.term(name).critic


def test_the_graph_has_three_encoders_of_z_each_its_own_process():
    g = build("wyner", x_shape=(1, 8, 8), hidden=(16,))
    assert dict(g.processes) == {"p": "generative", "q": "inference", "q_x": "inference", "q_y": "inference"}
    encoders = {e.process: e.parents for e in g.edges if e.kind == "inference" and e.child == "z"}
    assert encoders == {"q": ("x", "y"), "q_x": ("x",), "q_y": ("y",)}
    assert {e.child: e.parents for e in g.edges_of("generative")} == {"x": ("z", "u"), "y": ("z", "v")}
    assert all(g.nodes[n].prior == "standard" for n in "zuv") and g.nodes["y"].shape == (1, 8, 8)
    for latent, parents in (("u", ("z", "x")), ("v", ("z", "y"))):  # the local encoders, one network each
        edges = [g.edge_into(latent, "inference", p) for p in ("q", "q_x", "q_y")]
        assert all(e.parents == parents for e in edges) and len({id(e.net) for e in edges}) == 1
    assert all(e.deterministic for e in g.edges)  # the authors' networks take no noise
    assert not g.edges_of("adversarial")  # the critics are terms, trained in their own phase
    model = unidgm.compile(g)
    assert [p.name for p in model.phases] == ["critic", "loss"]
    assert model.phases[1].groups == ("generative", "inference")
    assert model.training_defaults()["lr"] == 1e-4 and model.training_defaults()["betas"] == (0.5, 0.999)
    assert build("wyner", x_shape=(1, 8, 8), y_shape=(1, 4, 4)).nodes["y"].shape == (1, 4, 4)


def test_the_reconstructions_are_l1_through_each_views_encoder(batch):
    model = _model(**{**OFF, "lambda_rec": 2.0})
    out = model.loss(batch, phase="loss")
    n = _nets(model)
    x, y = batch["x"], batch["y"]
    for view, enc, other in (("x", "E_x", "y"), ("y", "E_y", "x")):
        z = n[enc](batch[view])
        u = n["L_u"](_cat(z, x))                     # u = L_u(z, x), the true x's style
        v = n["L_v"](_cat(z, y))
        x_hat, y_hat = n["G_x"](_cat(z, u)).reshape(x.shape), n["G_y"](_cat(z, v)).reshape(y.shape)
        assert torch.allclose(out[f"rec_{view}2x"], (x_hat - x).abs().mean(), atol=1e-6)
        assert torch.allclose(out[f"rec_{view}2y"], (y_hat - y).abs().mean(), atol=1e-6)
    recs = sum(out[k] for k in ("rec_x2x", "rec_x2y", "rec_y2y", "rec_y2x"))
    assert torch.allclose(out["loss"], 2.0 * recs, atol=1e-6)  # lambda_rec = 2, every other weight 0


def test_the_common_information_critic_tells_joint_from_shuffled_z(batch):
    model = _model(**{**OFF, "lambda_ci": 0.5, "lambda_rec": 1.0})
    n, T = _nets(model), _critic(model, "critic_ci")
    x, y = batch["x"], batch["y"]
    z = n["E"](_cat(x, y))                                # q(z|x,y)
    torch.manual_seed(3)
    out = model.loss(batch, phase="critic")
    torch.manual_seed(3)
    perm = torch.randperm(B)                              # the shuffle's permutation, the phase's first draw
    joint, shuffled = T(_cat(x, y, z)).reshape(-1), T(_cat(x, y, z[perm])).reshape(-1)
    expected = -F.logsigmoid(joint).mean() - torch.log1p(-torch.sigmoid(shuffled)).mean()
    assert torch.allclose(out["critic_ci"], expected, atol=1e-5)
    assert model.phases[0].loss == "critic_ci"  # the only critic: its loss is the phase's
    loss = model.loss(batch, phase="loss")
    assert torch.allclose(loss["ci"], joint.mean(), atol=1e-5)  # I(X,Y;Z) ~= E_q[T(x, y, z)]
    recs = sum(loss[k] for k in ("rec_x2x", "rec_x2y", "rec_y2y", "rec_y2x"))
    assert torch.allclose(loss["loss"], recs + 0.5 * joint.mean(), atol=1e-5)


def test_the_joint_matching_is_the_symmetric_kl_plugged_in(batch):
    model = _model(**{**OFF, "lambda_joint": 1.0})
    n, T = _nets(model), _critic(model, "critic_joint")
    x, y = batch["x"], batch["y"]
    z = n["E"](_cat(x, y))
    u, v = n["L_u"](_cat(z, x)), n["L_v"](_cat(z, y))
    real = T(_cat(x, y, z, u, v)).reshape(-1)
    torch.manual_seed(5)
    out = model.loss(batch, phase="loss")
    torch.manual_seed(5)
    drawn = model.sample(B)                               # the same draws of the priors
    zp, up, vp = drawn["z"], drawn["u"], drawn["v"]
    xp, yp = n["G_x"](_cat(zp, up)).reshape(x.shape), n["G_y"](_cat(zp, vp)).reshape(y.shape)
    assert torch.allclose(xp, drawn["x"]) and torch.allclose(yp, drawn["y"])
    fake = T(_cat(xp, yp, zp, up, vp)).reshape(-1)
    assert torch.allclose(out["joint"], real.mean() - fake.mean(), atol=1e-5)  # E_q[T] - E_p[T]
    assert torch.allclose(out["loss"], out["joint"])
    torch.manual_seed(6)
    critic = model.loss(batch, phase="critic")
    torch.manual_seed(6)
    drawn = model.sample(B)
    fake = T(_cat(drawn["x"], drawn["y"], drawn["z"], drawn["u"], drawn["v"])).reshape(-1)
    expected = F.softplus(-real).mean() + F.softplus(fake).mean()
    assert torch.allclose(critic["critic_joint"], expected, atol=1e-5)


@pytest.mark.parametrize("direction", ["x2y", "y2x"])
def test_the_conditional_matching_generates_one_view_from_the_others_encoder(batch, direction):
    model = _model(**{**OFF, f"lambda_{direction}": 1.5})
    n, T = _nets(model), _critic(model, f"critic_{direction}")
    x, y = batch["x"], batch["y"]
    z = n["E"](_cat(x, y))
    if direction == "x2y":   # q(x,y) q(z|x,y) q(v|z,y) against q(x) q_x(z|x) p(v) p(y|z,v)
        real = T(_cat(x, y, z, n["L_v"](_cat(z, y)))).reshape(-1)
        torch.manual_seed(7)
        out = model.loss(batch, phase="loss")
        torch.manual_seed(7)
        zx, vp = n["E_x"](x), torch.randn(B, 2)           # v ~ p(v), the phase's first draw
        fake = T(_cat(x, n["G_y"](_cat(zx, vp)), zx, vp)).reshape(-1)
    else:                    # q(x,y) q(z|x,y) q(u|z,x) against q(y) q_y(z|y) p(u) p(x|z,u)
        real = T(_cat(x, y, z, n["L_u"](_cat(z, x)))).reshape(-1)
        torch.manual_seed(7)
        out = model.loss(batch, phase="loss")
        torch.manual_seed(7)
        zy, up = n["E_y"](y), torch.randn(B, 3)
        fake = T(_cat(n["G_x"](_cat(zy, up)), y, zy, up)).reshape(-1)
    assert torch.allclose(out[direction], real.mean() - fake.mean(), atol=1e-5)
    assert torch.allclose(out["loss"], 1.5 * out[direction], atol=1e-6)


def test_a_weight_of_zero_switches_its_term_off(batch):
    every = set(_model().objective.keys)
    assert {"joint", "x2y", "y2x", "ci", "rec_x2x", "rec_x2y", "rec_y2y", "rec_y2x", "critic_joint", "critic_x2y",
            "critic_y2x", "critic_ci", "critic", "loss"} == every
    for option, gone in (("lambda_joint", {"joint", "critic_joint"}), ("lambda_x2y", {"x2y", "critic_x2y"}),
                         ("lambda_y2x", {"y2x", "critic_y2x"}),
                         ("lambda_rec", {"rec_x2x", "rec_x2y", "rec_y2y", "rec_y2x"})):
        assert set(_model(**{option: 0.0}).objective.keys) == every - gone, option
    # lambda_CI = 0: the critic still trains and I(X,Y;Z) is reported, but nothing minimises it
    model = _model(lambda_ci=0.0)
    assert set(model.objective.keys) == every
    assert model.objective.term("ci").weight == 0.0
    torch.manual_seed(2)
    out = model.loss(batch, phase="loss")
    assert "ci" not in out and math.isfinite(model.loss(batch)["ci"].item())
    parts = ("joint", "x2y", "y2x", "rec_x2x", "rec_x2y", "rec_y2y", "rec_y2x")
    assert torch.allclose(out["loss"], sum(out[k] for k in parts), atol=1e-6)
    with pytest.raises(ConfigError, match="every weight"):
        build("wyner", **OFF)


def test_a_few_training_steps_stay_finite(data, tmp_path):
    model = _model()
    first = {k: float(v.detach()) for k, v in model.loss({k: v[:64] for k, v in data.val.items()}).items()}
    assert all(math.isfinite(v) for v in first.values())
    summary = Trainer(model, data, max_steps=5, batch_size=32, out=tmp_path / "run", progress=False).fit()
    assert summary["steps"] == 5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    values = [v for r in records for k, v in r.items() if isinstance(v, float)]
    assert values and all(math.isfinite(v) for v in values)
    assert any("train/critic/critic_ci" in r for r in records) and any("val/ci" in r for r in records)


def test_the_command_line_trains_it_and_draws_its_three_encoders(tmp_path):
    from unidgm.cli import main

    out = tmp_path / "wyner"
    assert main(["train", "wyner", "--data", "digits-add1", "--epochs", "1", "--batch-size", "256", "--out", str(out),
                 "--quiet", "--set", "hidden=(16,)", "--set", "z_dim=4"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["model"] == "wyner" and (out / "last.pt").exists()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    svg = tmp_path / "wyner.svg"
    assert main(["render", str(out), "-o", str(svg)]) == 0
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    arcs = {g.get("id") for g in root.iter(SVG + "g") if g.get("class") == "edge"}
    # q(z|x,y) draws an arc from each view, q_x(z|x) and q_y(z|y) one each, labelled with their process
    assert {"inference-x-z", "inference-y-z", "inference-q_x-x-z", "inference-q_y-y-z"} <= arcs
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    assert "z = E_φ(x,y)" in texts and "z = E_φ(x) [q_x]" in texts and "z = E_φ(y) [q_y]" in texts
