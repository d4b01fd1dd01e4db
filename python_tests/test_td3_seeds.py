"""Several TD3 seeds in one process (`--seeds`): each seed's update is its single run's, its
streams are its single run's, its folder is a single run's (eval, load_agent, report, resume),
a seed that diverges stops alone, and a run stopped during a save or before its first one
resumes or starts again."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import load_agent, td3  # noqa: E402
from spikekern.rl.checkpoint import CHECKPOINT, PREVIOUS, load_checkpoint  # noqa: E402
from spikekern.rl.guards import DivergedError  # noqa: E402
from helpers import break_after_save  # noqa: E402
from test_td3 import rows, tiny  # noqa: E402

SEEDS = [4, 7, 9]


@pytest.mark.parametrize("actor", ["ilc-san", "popsan", "ann"])
def test_each_seeds_update_is_its_single_runs_update(tmp_path, actor):
    """Same weights, same batch: one critic and actor update of seed k in a 3-seed trainer
    equals the single trainer's update of seed k (float64; no smoothing noise, whose streams
    the next test covers)."""
    cfg = tiny(actor=actor, target_noise=0.0, policy_delay=1)
    multi = td3.TD3Trainer(cfg, tmp_path / "multi", seeds=SEEDS)
    singles = [td3.TD3Trainer(cfg, tmp_path / f"single{s}", seeds=[s]) for s in SEEDS]
    for t in [multi, *singles]:
        t.agent.double()
    g = torch.Generator().manual_seed(0)
    B = cfg.batch_size
    batch = dict(obs=torch.randn(B, 3, 3, generator=g, dtype=torch.float64) * 2,
                 obs2=torch.randn(B, 3, 3, generator=g, dtype=torch.float64) * 2,
                 act=torch.rand(B, 3, 1, generator=g, dtype=torch.float64) * 4 - 2,
                 rew=torch.randn(B, 3, generator=g, dtype=torch.float64),
                 done=(torch.rand(B, 3, generator=g) < 0.1).double())
    multi.agent.norm.update(batch["obs"].numpy())  # some statistics in the normalisers first
    for k, single in enumerate(singles):
        single.agent.norm.update(batch["obs"][:, k:k + 1].numpy())
    info = multi.learn(batch)
    multi_state = multi.agent.state_dict()
    for k, single in enumerate(singles):
        single_info = single.learn({name: v[:, k:k + 1] for name, v in batch.items()})
        for name in ("q_loss", "pi_loss"):
            torch.testing.assert_close(info[name][k], single_info[name][0], rtol=1e-12, atol=1e-12)
        for name, t in single.agent.state_dict().items():
            torch.testing.assert_close(multi_state[name][k], t[0], rtol=1e-10, atol=1e-12,
                                       msg=lambda m: f"seed {SEEDS[k]}, {name}: {m}")


def test_seeds_start_as_their_single_runs_and_draw_their_streams(tmp_path):
    """Seed k of a 2-seed run starts from seed k's single-run networks, and its transitions equal
    the single run's exactly for the 100 random-action steps, through 5 bursts of updates
    (which draw each seed's sampling and smoothing-noise streams); once the actor acts, the
    batched products sum in another order than the single ones, and the transitions agree to
    float32 rounding (checked to 1e-4 over the next 40 steps)."""
    cfg = tiny(steps=140, start_steps=100, update_after=50, update_every=10, epoch_steps=140)
    td3.run(cfg, tmp_path / "multi", progress=False, seeds=[2, 5])
    for seed in (2, 5):
        td3.run(cfg, tmp_path / f"single{seed}", progress=False, seeds=[seed])
        multi = load_checkpoint(tmp_path / "multi" / f"seed{seed}")
        single = load_checkpoint(tmp_path / f"single{seed}")
        for name in ("obs", "act", "rew", "obs2", "done"):
            a, b = multi["buffer"][name], single["buffer"][name]
            assert np.array_equal(a[:100], b[:100]), name
            np.testing.assert_allclose(a[100:140], b[100:140], rtol=1e-4, atol=1e-4, err_msg=name)
        assert json.loads((tmp_path / "multi" / f"seed{seed}" / "config.json").read_text())["seed"] == seed
    fresh = td3.TD3Trainer(cfg, tmp_path / "fresh", seeds=[2, 5])
    for k, seed in enumerate((2, 5)):
        alone = td3.TD3Trainer(cfg, tmp_path / f"fresh{seed}", seeds=[seed])
        for name, t in alone.agent.state_dict().items():
            assert torch.equal(fresh.agent.state_dict()[name][k], t[0]), name


def test_seed_folders_are_single_runs_and_the_group_resumes_exactly(tmp_path, capsys):
    cfg = tiny(steps=200)
    td3.run(cfg, tmp_path / "straight", progress=False, seeds=[0, 1])
    td3.run(dataclasses_replace(cfg, steps=100), tmp_path / "split", progress=False, seeds=[0, 1])
    assert json.loads((tmp_path / "split" / "seeds.json").read_text())["seeds"] == [0, 1]
    assert cli.main(["train", "td3", "--resume", str(tmp_path / "split"), "--steps", "200", "--no-progress"]) == 0
    assert "seed 1: final test return" in capsys.readouterr().out
    for seed in (0, 1):
        a = torch.load(tmp_path / "straight" / f"seed{seed}" / "model.pt", weights_only=True)["agent"]
        b = torch.load(tmp_path / "split" / f"seed{seed}" / "model.pt", weights_only=True)["agent"]
        assert all(torch.equal(a[n], b[n]) for n in a)
        same = ("step", "test_return", "train_return", "episodes")
        assert [[r[n] for n in same] for r in rows(tmp_path / "straight" / f"seed{seed}")] == \
            [[r[n] for n in same] for r in rows(tmp_path / "split" / f"seed{seed}")]
    # Each folder is a single run: evaluated, loaded and resumed on its own.
    run = tmp_path / "straight" / "seed1"
    last = float(rows(run)[-1]["test_return"])
    assert np.mean(load_agent(run).evaluate(2, seed=1 + 10_000 * 3)) == pytest.approx(last, rel=1e-12)
    assert cli.main(["eval", str(run), "--episodes", "1"]) == 0
    result = td3.run(None, run, resume=True, progress=False, overrides=dict(steps=300))
    assert result["step"] == 300 and [int(r["step"]) for r in rows(run)] == [100, 200, 300]
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path / "split")]) == 0
    assert "| Pendulum-v1 | ilc-san | 0 1 |" in capsys.readouterr().out


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def test_a_diverging_seed_stops_alone(tmp_path):
    """Seed 1's critic is made non-finite after its first checkpoint: it stops with its folder
    saying why and its last good checkpoint intact; seed 0 finishes exactly as in an
    undisturbed run; the run ends with an error naming seed 1."""
    cfg = tiny(steps=300)
    td3.run(cfg, tmp_path / "calm", progress=False, seeds=[0, 1])
    trainer = td3.TD3Trainer(cfg, tmp_path / "run", seeds=[0, 1])
    break_after_save(trainer, 100, trainer.agent.q1.q[0].weight[1], float("nan"))
    with pytest.raises(DivergedError, match=r"seed 1: training diverged at step 1\d\d: the critic loss is nan.*"
                                            r"other seeds finished"):
        trainer.train(progress=False)
    broken = tmp_path / "run" / "seed1"
    assert "critic loss is nan" in (broken / "diverged.txt").read_text()
    st = load_checkpoint(broken)
    assert st["step"] == 100 and all(torch.isfinite(v).all() for v in st["agent"].values() if v.is_floating_point())
    assert [int(r["step"]) for r in rows(broken)] == [100]
    kept = torch.load(tmp_path / "run" / "seed0" / "model.pt", weights_only=True)["agent"]
    calm = torch.load(tmp_path / "calm" / "seed0" / "model.pt", weights_only=True)["agent"]
    assert all(torch.equal(kept[n], calm[n]) for n in kept)
    assert [int(r["step"]) for r in rows(tmp_path / "run" / "seed0")] == [100, 200, 300]


def test_seeds_options_are_checked(tmp_path, capsys):
    base = ["train", "td3", "--steps", "10", "--no-progress"]
    assert cli.main(base + ["--seed", "1", "--seeds", "1", "2", "--out", str(tmp_path / "a")]) == 2
    assert cli.main(base + ["--seeds", "1", "1", "--out", str(tmp_path / "b")]) == 2
    assert cli.main(base + ["--seeds", "1", "2", "--resume", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and "distinct non-negative" in err and "--seeds goes with a new run" in err
    assert not any((tmp_path / d).exists() for d in "abc")


def stopped_group(tmp_path, cfg, name):
    """A run of seeds 0 and 1 trained to cfg.steps, then put in the state a SIGKILL during its
    last save leaves: seed 0 saved that step, seed 1 is still at its checkpoint before."""
    td3.run(cfg, tmp_path / name, progress=False, seeds=[0, 1])
    late = tmp_path / name / "seed1"
    os.replace(late / PREVIOUS, late / CHECKPOINT)
    return tmp_path / name


def test_a_group_stopped_while_saving_resumes_where_every_seed_saved(tmp_path):
    cfg = tiny(steps=300)
    td3.run(cfg, tmp_path / "straight", progress=False, seeds=[0, 1])
    run = stopped_group(tmp_path, dataclasses_replace(cfg, steps=200), "stopped")
    assert [load_checkpoint(run / f"seed{s}")["step"] for s in (0, 1)] == [200, 100]
    with pytest.warns(RuntimeWarning, match="seed 0 saved step 200, the others only step 100"):
        result = td3.run(None, run, resume=True, progress=False, overrides=dict(steps=300))
    assert [result["seeds"][k]["step"] for k in (0, 1)] == [300, 300]
    for seed in (0, 1):
        a = torch.load(tmp_path / "straight" / f"seed{seed}" / "model.pt", weights_only=True)["agent"]
        b = torch.load(run / f"seed{seed}" / "model.pt", weights_only=True)["agent"]
        assert all(torch.equal(a[n], b[n]) for n in a), f"seed {seed} did not resume exactly"
        assert [int(r["step"]) for r in rows(run / f"seed{seed}")] == [100, 200, 300]


def test_a_group_stopped_before_its_first_checkpoint_starts_again(tmp_path, capsys):
    """A run of several seeds killed before its first checkpoint leaves seeds.json, each seed's
    config.json and an empty progress.csv: nothing to resume. A sweep's trial (and `train
    --out` on that folder) starts it again instead of failing on the missing checkpoint."""
    from spikekern.rl.runtime import saved_run
    from spikekern.sweep import trial_process, trials

    given = dict(steps=200, start_steps=100, update_after=100, update_every=50, epoch_steps=100, test_episodes=2,
                 hidden_sizes=(32, 32), batch_size=32, replay_size=1000, max_ep_len=100, threads=1)
    [trial] = trials.make_trials("td3", ["Pendulum-v1"], ["ilc-san"], [0, 1], given, tmp_path / "sweep",
                                 seeds_per_trial=2)
    run = Path(trial.run_dir)
    td3.run(trial.make_config(), run, progress=False, seeds=[0, 1])
    reference = {s: torch.load(run / f"seed{s}" / "model.pt", weights_only=True)["agent"] for s in (0, 1)}
    for seed in (0, 1):  # what the kill leaves
        for name in (CHECKPOINT, PREVIOUS, "model.pt"):
            (run / f"seed{seed}" / name).unlink()
        (run / f"seed{seed}" / "progress.csv").write_text(
            (run / f"seed{seed}" / "progress.csv").read_text().splitlines()[0] + "\n")
    assert (run / "seeds.json").exists() and not saved_run(run)
    result = trial_process.train(trial, "sweep-test")
    assert [result["seeds"][k]["step"] for k in (0, 1)] == [200, 200]
    assert json.loads((run / trial_process.ATTEMPTS).read_text().splitlines()[-1])["resumed"] is False
    for seed in (0, 1):
        again = torch.load(run / f"seed{seed}" / "model.pt", weights_only=True)["agent"]
        assert all(torch.equal(again[n], reference[seed][n]) for n in again)
        assert [int(r["step"]) for r in rows(run / f"seed{seed}")] == [100, 200]
    assert saved_run(run)
    assert cli.main(["train", "td3", "--seeds", "0", "1", "--out", str(run), "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err
