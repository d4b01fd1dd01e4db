"""TD3 with Proxy Target (`--proxy-target`, docs/proxy_target.md): the proxy's update is the
step computed here by hand, the critics' targets come from the proxy, the ANN actor is
refused in one line, the proxy lives in checkpoints and nowhere else, a resumed run equals
an uninterrupted one, and each seed of a several-seed trainer updates as its single run."""
import torch

import pytest

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import load_agent, td3  # noqa: E402
from test_td3 import rows, tiny  # noqa: E402

SEEDS = [4, 7, 9]


def proxy_cfg(**kw):
    return tiny(proxy_target=True, proxy_hidden_sizes=(5, 4), **kw)


def _batch(B, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(obs=torch.randn(B, K, 3, generator=g, dtype=torch.float64) * 2,
                obs2=torch.randn(B, K, 3, generator=g, dtype=torch.float64) * 2,
                act=torch.rand(B, K, 1, generator=g, dtype=torch.float64) * 4 - 2,
                rew=torch.randn(B, K, generator=g, dtype=torch.float64),
                done=(torch.rand(B, K, generator=g) < 0.1).double())


def _proxy_step(t, b):
    """One proxy update on batch b, with the actor's targets from a forward of its own."""
    o = t.agent.norm(b["obs"])
    with torch.no_grad():
        target = t.agent.actor(o)
    return t.learn_proxy(o, target)


def _mlp(params, x, act_limit):
    """The proxy written out: act_limit * tanh(W3 relu(W2 relu(W1 x + b1) + b2) + b3)."""
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(x @ w1.T + b1)
    h = torch.relu(h @ w2.T + b2)
    return act_limit * torch.tanh(h @ w3.T + b3)


def test_proxy_update_is_the_hand_computed_step(tmp_path):
    """Loss = mean over batch and action of (proxy(o) - actor(o))^2, o the normalised
    observations; Adam's first step moves each parameter by lr * g / (|g| + eps)."""
    cfg = proxy_cfg()
    t = td3.TD3Trainer(cfg, tmp_path / "run")
    t.agent.double()
    t.proxy.double()
    b = _batch(cfg.batch_size, 1)
    t.agent.norm.update(b["obs"].numpy())
    names = ["pi.0.weight", "pi.0.bias", "pi.2.weight", "pi.2.bias", "pi.4.weight", "pi.4.bias"]
    before = [t.proxy.state_dict()[n][0].clone().requires_grad_(True) for n in names]
    o = t.agent.norm(b["obs"])[:, 0]
    with torch.no_grad():
        target = t.agent.actor(t.agent.norm(b["obs"]))[:, 0]
    loss = ((_mlp(before, o, t.act_limit) - target) ** 2).mean()
    grads = torch.autograd.grad(loss, before)
    got = _proxy_step(t, b)
    torch.testing.assert_close(got, loss.detach().reshape(1))
    after = t.proxy.state_dict()
    for n, p, g in zip(names, before, grads):
        expected = p.detach() - cfg.proxy_lr * g / (g.abs() + 1e-8)
        torch.testing.assert_close(after[n][0], expected, rtol=1e-12, atol=1e-12, msg=lambda m: f"{n}: {m}")


def test_update_is_proxy_iters_proxy_steps_then_td3_on_the_last_batch(tmp_path):
    """update() takes the actor's actions for all proxy_iters batches from one forward; it
    equals proxy_iters single proxy updates (each with its own forward) on the batches it
    draws, then the TD3 update on the last of them."""
    cfg = proxy_cfg(policy_delay=1)
    ts = [td3.TD3Trainer(cfg, tmp_path / f"run{i}") for i in range(2)]
    for t in ts:
        t.agent.double()
        t.proxy.double()
        while t.agent_step() < cfg.update_after - 1:  # random actions, no update yet
            t.step_once()
        sample = t.buffer.sample
        t.buffer.sample = lambda *a, _sample=sample, **k: {n: v.double() for n, v in _sample(*a, **k).items()}
    rng = torch.get_rng_state()  # a single run's target noise comes from the global stream
    info = ts[0].update()
    by_hand = ts[1]
    torch.set_rng_state(rng)
    batches = [by_hand.buffer.sample(cfg.batch_size, by_hand.rngs) for _ in range(cfg.proxy_iters)]
    losses = [_proxy_step(by_hand, b) for b in batches]
    expected = by_hand.learn(batches[-1])
    torch.testing.assert_close(info["proxy_loss"], losses[-1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(info["q_loss"], expected["q_loss"], rtol=1e-12, atol=1e-12)
    for part in ("agent", "proxy"):
        got, want = (getattr(t, part).state_dict() for t in ts)
        for name in want:
            torch.testing.assert_close(got[name], want[name], rtol=1e-12, atol=1e-12, msg=lambda m: f"{part}.{name}: {m}")


def test_critic_targets_come_from_the_proxy(tmp_path):
    cfg = proxy_cfg(target_noise=0.0, policy_delay=1)
    t = td3.TD3Trainer(cfg, tmp_path / "run")
    assert t.agent.actor_targ is None
    t.agent.double()
    t.proxy.double()
    b = _batch(cfg.batch_size, 1, seed=1)
    ag = t.agent
    with torch.no_grad():
        o, o2 = ag.norm(b["obs"]), ag.norm(b["obs2"])
        a2 = t.proxy(o2).clamp(-t.act_limit, t.act_limit)
        backup = b["rew"] + cfg.gamma * (1 - b["done"]) * torch.min(ag.q1_targ(o2, a2), ag.q2_targ(o2, a2))
        q_loss = ((ag.q1(o, b["act"]) - backup) ** 2).mean(0) + ((ag.q2(o, b["act"]) - backup) ** 2).mean(0)
    torch.testing.assert_close(t.learn(b)["q_loss"], q_loss, rtol=1e-12, atol=1e-12)


def test_the_ann_actor_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "td3", "--actor", "ann", "--proxy-target", "--steps", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--proxy-target is for spiking actors" in err
    assert not out.exists()


def test_the_proxy_is_in_checkpoints_and_not_in_the_saved_agent(tmp_path):
    result = td3.run(proxy_cfg(), tmp_path / "run", progress=False)
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert {"proxy", "proxy_opt"} <= set(ck) and ck["proxy"]["pi.0.weight"].shape == (5, 3)
    model = torch.load(tmp_path / "run" / "model.pt", weights_only=False)["agent"]
    assert not any(k.startswith(("proxy", "actor_targ")) for k in model), sorted(model)
    assert ck["agent"].keys() == model.keys()
    # the saved spiking actor alone plays the last evaluation's episodes again
    returns = load_agent(tmp_path / "run").evaluate(2, seed=40_000)
    assert sum(returns) / 2 == pytest.approx(result["test_return"], rel=1e-12)


@pytest.mark.slow
def test_resume_with_the_proxy_equals_uninterrupted(tmp_path):
    td3.run(proxy_cfg(steps=400), tmp_path / "straight", progress=False)
    td3.run(proxy_cfg(steps=200), tmp_path / "split", progress=False)
    td3.run(None, tmp_path / "split", resume=True, progress=False, overrides=dict(steps=400))
    a, b = (torch.load(tmp_path / d / "checkpoint.pt", weights_only=False) for d in ("straight", "split"))
    for part in ("agent", "proxy"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    same = ("step", "test_return", "train_return", "episodes")
    assert [[r[k] for k in same] for r in rows(tmp_path / "straight")] == \
        [[r[k] for k in same] for r in rows(tmp_path / "split")]


def test_each_seeds_proxy_and_td3_update_is_its_single_runs(tmp_path):
    cfg = proxy_cfg(target_noise=0.0, policy_delay=1)
    multi = td3.TD3Trainer(cfg, tmp_path / "multi", seeds=SEEDS)
    singles = [td3.TD3Trainer(cfg, tmp_path / f"single{s}", seeds=[s]) for s in SEEDS]
    for t in [multi, *singles]:
        t.agent.double()
        t.proxy.double()
    b = _batch(cfg.batch_size, 3, seed=2)
    multi.agent.norm.update(b["obs"].numpy())
    for k, single in enumerate(singles):
        single.agent.norm.update(b["obs"][:, k:k + 1].numpy())
    proxy_loss = _proxy_step(multi, b)
    info = multi.learn(b)
    for k, single in enumerate(singles):
        part = {name: v[:, k:k + 1] for name, v in b.items()}
        torch.testing.assert_close(proxy_loss[k], _proxy_step(single, part)[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(info["q_loss"][k], single.learn(part)["q_loss"][0], rtol=1e-12, atol=1e-12)
        for name, p in single.proxy.state_dict().items():
            torch.testing.assert_close(multi.proxy.state_dict()[name][k], p[0], rtol=1e-10, atol=1e-12,
                                       msg=lambda m: f"seed {SEEDS[k]}, {name}: {m}")


def test_a_sweep_compares_an_actor_with_and_without_the_proxy(tmp_path):
    """`--actor ilc-san ilc-san+proxy`: two agents of the grid, in their own folders, and
    rows of their own in the report."""
    from spikekern.sweep import summary, trials

    every = ["ilc-san", "ilc-san+proxy", "popsan-lif+proxy"]
    assert [(t.agent, t.config["actor"], t.config["neuron"], t.config["proxy_target"])
            for t in trials.make_trials("td3", ["Pendulum-v1"], every, [0], {}, tmp_path)] == \
        [("ilc-san", "ilc-san", "cuba", False), ("ilc-san+proxy", "ilc-san", "cuba", True),
         ("popsan-lif+proxy", "popsan", "lif", True)]
    grid = trials.make_trials("td3", ["Pendulum-v1"], every[:2], [0], {}, tmp_path)
    assert [t.run_dir for t in grid] == [str(tmp_path / "Pendulum-v1" / a / "seed0") for a in every[:2]]
    with pytest.raises(ValueError, match="--proxy-target is for spiking actors"):
        trials.validate(trials.make_trials("td3", ["Pendulum-v1"], ["ann+proxy"], [0], {}, tmp_path))
    for t in grid:
        small = dict(steps=100, start_steps=100, update_after=100, epoch_steps=100, test_episodes=1,
                     hidden_sizes=(8, 8), proxy_hidden_sizes=(8, 8), max_ep_len=50, threads=1)
        td3.run(td3.TD3Config(**dict(t.config, **small)), t.run_dir, progress=False)
    assert [r["agent"] for r in summary.summarize(summary.collect(tmp_path))] == ["ilc-san", "ilc-san+proxy"]
