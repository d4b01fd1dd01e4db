"""Several DQN seeds in one process (`--seeds`): each seed's gradient step is its single run's,
its streams are its single run's, its folder is a single run's, a resumed group continues
exactly, and a seed that diverges stops alone."""
import dataclasses

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")
pytest.importorskip("minatar", reason="the [rl] extra is not installed")

from spikekern.rl import dqn, load_agent  # noqa: E402
from spikekern.rl.checkpoint import load_checkpoint  # noqa: E402
from spikekern.rl.guards import DivergedError  # noqa: E402
from helpers import break_after_save  # noqa: E402
from test_dqn import csv_rows, tiny_minatar  # noqa: E402

SEEDS = [3, 8, 11]


@pytest.mark.parametrize("model,double", [("pl-sdqn", False), ("dqn", False), ("sdqn", True)])
def test_each_seeds_gradient_step_is_its_single_runs(tmp_path, model, double):
    """Same weights, same batch: one gradient step of seed k in a 3-seed trainer equals the
    single trainer's step of seed k (float64), with and without Double DQN."""
    cfg = tiny_minatar(model=model, double_dqn=double)
    multi = dqn.DQNTrainer(cfg, tmp_path / "multi", seeds=SEEDS)
    singles = [dqn.DQNTrainer(cfg, tmp_path / f"single{s}", seeds=[s]) for s in SEEDS]
    for t in [multi, *singles]:
        t.q.double()
        t.q_targ.double()
    g = torch.Generator().manual_seed(1)
    B, K = cfg.batch_size, len(SEEDS)
    batch = dict(obs=torch.rand(B, K, 10, 10, 4, generator=g) < 0.2, next_obs=torch.rand(B, K, 10, 10, 4, generator=g) < 0.2,
                 act=torch.randint(0, 3, (B, K), generator=g), ret=torch.randn(B, K, generator=g, dtype=torch.float64),
                 discount=torch.full((B, K), 0.99, dtype=torch.float64),
                 done=(torch.rand(B, K, generator=g) < 0.2).double())
    losses = multi.learn(batch)
    state = multi.q.state_dict()
    for k, single in enumerate(singles):
        loss = single.learn({name: v[:, k:k + 1] for name, v in batch.items()})
        torch.testing.assert_close(losses[k], loss[0], rtol=1e-12, atol=1e-14)
        for name, t in single.q.state_dict().items():
            torch.testing.assert_close(state[name][k], t[0], rtol=1e-10, atol=1e-12,
                                       msg=lambda m: f"seed {SEEDS[k]}, {name}: {m}")
    for t in [multi, *singles]:
        t.close()


def test_seeds_draw_their_single_runs_streams_and_resume_exactly(tmp_path):
    """Seed k of a 2-seed MinAtar run stores exactly its single run's transitions for the first
    200 steps, 100 past the first gradient step (epsilon decays to 0.1 by step 300: greedy
    actions of the batched networks are among them); a group stopped at an epoch and resumed
    ends exactly as one that never stopped."""
    cfg = tiny_minatar(model="pl-sdqn", frames=400, epoch_frames=200, eps_decay_steps=300)
    dqn.run(cfg, tmp_path / "multi", progress=False, seeds=[0, 4])
    for k, seed in enumerate((0, 4)):
        dqn.run(cfg, tmp_path / f"single{seed}", progress=False, seeds=[seed])
        a = load_checkpoint(tmp_path / "multi" / f"seed{seed}")["buffer"]
        b = load_checkpoint(tmp_path / f"single{seed}")["buffer"]
        for name in ("act", "rew", "term", "end"):
            assert np.array_equal(a[name][:, :200], b[name][:, :200]), name
        assert np.array_equal(a["frames"][:, :200], b["frames"][:, :200])
    dqn.run(dataclasses.replace(cfg, frames=200), tmp_path / "split", progress=False, seeds=[0, 4])
    dqn.run(None, tmp_path / "split", resume=True, progress=False, overrides=dict(frames=400))
    for seed in (0, 4):
        a, b = (load_checkpoint(tmp_path / r / f"seed{seed}") for r in ("multi", "split"))
        assert all(torch.equal(a["q"][n], b["q"][n]) for n in a["q"])
        assert (a["games"], a["grad_steps"]) == (b["games"], b["grad_steps"])
        rows = [[(r["step"], r["test_return"], r["games"]) for r in csv_rows(tmp_path / run / f"seed{seed}")]
                for run in ("multi", "split")]
        assert rows[0] == rows[1] and len(rows[0]) == 2
    run = tmp_path / "multi" / "seed4"  # a seed's folder is a single run: it loads and acts
    assert load_agent(run).act(np.zeros((10, 10, 4), bool)) in range(3)


def test_a_diverging_dqn_seed_stops_alone(tmp_path):
    cfg = tiny_minatar(model="dqn", frames=400, epoch_frames=200)
    dqn.run(cfg, tmp_path / "calm", progress=False, seeds=[0, 1])
    trainer = dqn.DQNTrainer(cfg, tmp_path / "run", seeds=[0, 1])
    break_after_save(trainer, 200, trainer.q.head.weight[0], float("inf"))
    with pytest.raises(DivergedError, match=r"seed 0: training diverged at step 20\d: the TD loss is (nan|inf)"):
        trainer.train(progress=False)
    assert "TD loss" in (tmp_path / "run" / "seed0" / "diverged.txt").read_text()
    assert load_checkpoint(tmp_path / "run" / "seed0")["env_steps"] == 200
    kept = load_checkpoint(tmp_path / "run" / "seed1")["q"]
    calm = load_checkpoint(tmp_path / "calm" / "seed1")["q"]
    assert all(torch.equal(kept[n], calm[n]) for n in kept)
