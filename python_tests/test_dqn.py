"""DQN trainer: short Atari runs of each model type (checkpoint, resume, eval), CartPole,
the frame-deduplicating replay against naive stacks across episode boundaries, bad input."""
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("ale_py", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import dqn  # noqa: E402
from spikekern.rl.frame_replay import FrameReplay  # noqa: E402


def tiny_atari(**kw) -> dqn.DQNConfig:
    base = dict(env="ALE/Pong-v5", frames=800, num_envs=2, learning_starts=40, train_every=4, batch_size=8,
                buffer_size=400, epoch_frames=400, test_episodes=1, max_test_steps=30, time_window=2,
                target_update=5, threads=1)
    base.update(kw)
    return dqn.DQNConfig(**base)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pl-sdqn", "sdqn", "dqn"])
def test_atari_train_checkpoint_resume_eval(tmp_path, model, capsys):
    run = tmp_path / "run"
    result = dqn.run(tiny_atari(model=model, save_buffer=True), run, progress=False)
    assert result["frames"] == 800
    for name in ("config.json", "progress.csv", "checkpoint.pt", "model.pt", "learning_curve.png"):
        assert (run / name).exists(), name
    st = torch.load(run / "checkpoint.pt", weights_only=False)
    assert st["grad_steps"] > 0 and st["buffer"] is not None
    result = dqn.run(None, run, resume=True, progress=False, overrides=dict(frames=1200))
    assert result["frames"] == 1200
    assert torch.load(run / "checkpoint.pt", weights_only=False)["grad_steps"] > st["grad_steps"]
    assert cli.main(["eval", str(run), "--episodes", "1"]) == 0
    assert "return over 1 episodes" in capsys.readouterr().out


@pytest.mark.slow
def test_cartpole_preset_trains_and_its_agent_reproduces_the_evaluation(tmp_path):
    cfg = dqn.DQNConfig.preset("CartPole-v1")
    assert cfg.num_envs == 4 and cfg.time_window == 8  # the classic-control preset
    from dataclasses import replace

    run = tmp_path / "run"
    result = dqn.run(replace(cfg, frames=4000, epoch_frames=4000, test_episodes=3, threads=1), run, progress=False)
    # 1000 warm-up steps, then a gradient step every 2 env steps.
    assert torch.load(run / "checkpoint.pt", weights_only=False)["grad_steps"] == (4000 - 1000) // 2
    # The saved agent, loaded back, plays the evaluation's episodes exactly again (the
    # trainer evaluated from seed 0 + 7919 * (4000 + 1), with test epsilon 0).
    from spikekern.rl import load_agent

    returns = load_agent(run).evaluate(3, seed=7919 * 4001)
    assert sum(returns) / 3 == pytest.approx(result["test_return"], rel=1e-12)


def test_replay_stacks_match_naive_stacks_across_episodes():
    # Real Atari episodes (episodic life makes them short) through the replay; every stored
    # transition's obs / next obs must equal the stacks the env returned.
    env = dqn.VecEnv("ALE/Breakout-v5", 2, train=True)
    replay = FrameReplay(10_000, 2, (84, 84), np.uint8, 4, n_step=1, gamma=0.9)
    rng = np.random.default_rng(0)
    obs = env.reset(0)
    naive = [[], []]  # (obs, next_obs, reward, terminal) per stream
    for s in range(2):
        replay.start_episode(s, obs[s])
    starting = np.zeros(2, bool)
    ends = 0
    for _ in range(400):
        a = rng.integers(0, env.n_actions, 2)
        obs2, r, term, trunc, _ = env.step(a)
        for s in range(2):
            if starting[s]:
                replay.start_episode(s, obs2[s])
                continue
            replay.add(s, int(a[s]), float(r[s]), obs2[s], bool(term[s]), bool(term[s] or trunc[s]))
            naive[s].append((obs[s].copy(), obs2[s].copy(), float(r[s]), bool(term[s])))
            ends += bool(term[s] or trunc[s])
        starting = term | trunc
        obs = obs2
    assert ends >= 2, "the run must cross episode boundaries"
    for s in range(2):
        for t, (o, o2, r, term) in enumerate(naive[s]):
            k = replay.fidx[s, t]
            got = replay._stack(np.array([s]), np.array([k]))[0]
            got2 = replay._stack(np.array([s]), np.array([k + 1]))[0]
            assert np.array_equal(got, o) and np.array_equal(got2, o2), (s, t)
    # Sampled 1-step transitions are among the naive ones.
    b = replay.sample(64, rng)
    pairs = {(o.tobytes(), o2.tobytes()) for s in range(2) for o, o2, _, _ in naive[s]}
    for o, o2 in zip(b["obs"].numpy(), b["next_obs"].numpy()):
        assert (o.tobytes(), o2.tobytes()) in pairs
    env.close()


def test_replay_n_step_returns_by_hand():
    rb = FrameReplay(100, 1, (), np.float32, 1, n_step=3, gamma=0.5)
    rb.start_episode(0, np.float32(0))
    # episode: rewards 1, 2, 4 then terminal; next episode: reward 8 (not ended)
    for i, (r, term) in enumerate([(1, False), (2, False), (4, True)]):
        rb.add(0, 0, r, np.float32(i + 1), term, term)
    rb.start_episode(0, np.float32(10))
    rb.add(0, 1, 8, np.float32(11), False, False)
    rng = np.random.default_rng(0)
    seen = {}
    for _ in range(50):
        b = rb.sample(8, rng)
        for o, ret, disc, done, o2 in zip(b["obs"].tolist(), b["ret"].tolist(), b["discount"].tolist(),
                                          b["done"].tolist(), b["next_obs"].tolist()):
            seen[o] = (ret, disc, done, o2)
    assert seen[0.0] == (1 + 0.5 * 2 + 0.25 * 4, 0.125, 1.0, 3.0)   # three steps, ends at the terminal
    assert seen[1.0] == (2 + 0.5 * 4, 0.25, 1.0, 3.0)               # stops at the terminal
    assert seen[2.0] == (4.0, 0.5, 1.0, 3.0)
    assert seen[10.0] == (8.0, 0.5, 0.0, 11.0)                       # newest: bootstraps from its next obs


def test_replay_memory_of_100k_atari_transitions():
    rb = FrameReplay(100_000, 10, (84, 84), np.uint8, 4, n_step=3, gamma=0.99)
    assert rb.frames.nbytes < 0.9 * 2**30


@pytest.mark.parametrize("argv,message", [
    (["--env", "ALE/NoSuchGame-v5"], "unknown Atari game"),
    (["--env", "Pendulum-v1"], "Box action space; DQN needs discrete actions"),
    (["--env", "NoSuchEnv-v0"], "unknown environment"),
    (["--backend", "cuda"], "backend 'cuda' is not available on cpu"),
    (["--model", "snn"], "unknown model 'snn'"),
])
def test_bad_input_fails_cleanly(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert cli.main(["train", "dqn", "--frames", "10", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_defaults_are_the_braincog_example():
    c = dqn.DQNConfig()
    assert (c.env, c.n_step, c.lr, c.gamma, c.target_update, c.buffer_size, c.batch_size) == \
        ("ALE/Pong-v5", 3, 1e-4, 0.99, 500, 100_000, 32)
    assert (c.eps_start, c.eps_end, c.eps_decay_steps, c.train_every, c.test_eps, c.time_window, c.num_envs) == \
        (1.0, 0.05, 1_000_000, 10, 0.005, 16, 10)


def test_eval_video_without_moviepy_is_one_clear_error(tmp_path, capsys):
    import importlib.util

    from dataclasses import replace

    run = tmp_path / "run"
    cfg = replace(dqn.DQNConfig.preset("CartPole-v1"), frames=200, epoch_frames=200, test_episodes=1, learning_starts=50)
    dqn.run(cfg, run, progress=False)
    # CartPole pays 1 per step: the logged mean test episode length is the test return
    last = csv_rows(run)[-1]
    assert float(last["test_length"]) == float(last["test_return"]) > 0
    code = cli.main(["eval", str(run), "--episodes", "1", "--video", str(tmp_path / "v")])
    if importlib.util.find_spec("moviepy") is None:
        assert code == 2 and "needs moviepy" in capsys.readouterr().err
    else:
        assert code == 0 and any((tmp_path / "v").glob("*.mp4"))


def tiny_minatar(**kw) -> dqn.DQNConfig:
    from dataclasses import replace

    base = dict(frames=600, learning_starts=100, epoch_frames=300, test_episodes=2, max_test_steps=60, batch_size=8,
                buffer_size=1000, target_update=20, threads=1)
    base.update(kw)
    return replace(dqn.DQNConfig.preset(kw.get("env", "MinAtar/Breakout-v1")), **base)


@pytest.mark.parametrize("model", ["pl-sdqn", "sdqn", "dqn"])
def test_minatar_train_checkpoint_resume_eval(tmp_path, model, capsys):
    pytest.importorskip("minatar", reason="the [rl] extra is not installed")
    run = tmp_path / "run"
    result = dqn.run(tiny_minatar(model=model), run, progress=False)
    assert result["frames"] == 600 and result["step"] == 600  # one env: a frame is an env step
    st = torch.load(run / "checkpoint.pt", weights_only=False)
    assert st["grad_steps"] == 500  # one gradient step per env step after the 100 warm-up steps
    assert st["buffer"]["frames"].dtype == np.bool_  # the game's grids, stored as they come
    result = dqn.run(None, run, resume=True, progress=False, overrides=dict(frames=900))
    assert result["frames"] == 900
    assert torch.load(run / "checkpoint.pt", weights_only=False)["grad_steps"] == 800
    assert cli.main(["eval", str(run), "--episodes", "2"]) == 0
    assert "return over 2 episodes" in capsys.readouterr().out


def test_minatar_resume_continues_exactly(tmp_path):
    """The replay buffer, the envs and the episodes under way are in the checkpoint by default
    for MinAtar: a run stopped at an epoch and resumed ends exactly as one that never stopped."""
    pytest.importorskip("minatar", reason="the [rl] extra is not installed")
    from dataclasses import replace

    cfg = tiny_minatar(model="pl-sdqn", frames=600, epoch_frames=200)
    dqn.run(cfg, tmp_path / "straight", progress=False)
    dqn.run(replace(cfg, frames=400), tmp_path / "split", progress=False)
    dqn.run(None, tmp_path / "split", resume=True, progress=False, overrides=dict(frames=600))
    a, b = (torch.load(tmp_path / r / "checkpoint.pt", weights_only=False) for r in ("straight", "split"))
    assert a["env"] is not None and a["buffer"] is not None
    for k in a["q"]:
        assert torch.equal(a["q"][k], b["q"][k]), k
    assert (a["games"], a["last_return"], a["grad_steps"]) == (b["games"], b["last_return"], b["grad_steps"])
    assert np.array_equal(a["buffer"]["frames"], b["buffer"]["frames"])
    rows = [[(r["step"], r["test_return"], r["games"]) for r in csv_rows(tmp_path / run)] for run in ("straight", "split")]
    assert rows[0] == rows[1] and len(rows[0]) == 3


def test_a_buffer_over_the_bound_stays_out_of_checkpoints(tmp_path, capsys):
    """Atari's default buffer is over the default bound: its checkpoints leave it out, and the
    run says so (and how to change it) before it starts."""
    trainer = dqn.DQNTrainer(tiny_atari(buffer_checkpoint_mb=1), tmp_path / "run")
    err = capsys.readouterr().err
    assert "over --buffer-checkpoint-mb 1: checkpoints leave it out" in err and "--save-buffer" in err
    trainer.save()
    st = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert st["buffer"] is None and st["env"] is None
    trainer.close()
    atari = FrameReplay(dqn.DQNConfig().buffer_size, dqn.DQNConfig().num_envs, (84, 84), np.uint8, 4, 3, 0.99)
    assert atari.nbytes > dqn.DQNConfig().buffer_checkpoint_mb << 20


def csv_rows(run_dir):
    import csv

    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_minatar_preset_is_the_papers_dqn(tmp_path):
    # Read from the config and from the optimiser the trainer builds: the MinAtar paper's
    # DQN (batch 32, replay 100k, target every 1000 steps, a gradient step per env step after
    # 5000, epsilon 1 -> 0.1 over 100k, gamma 0.99, RMSprop 2.5e-4 with alpha 0.95, eps 0.01,
    # centered; Huber loss, 1-step targets, no Double DQN), T = 4 for the spiking nets.
    pytest.importorskip("minatar", reason="the [rl] extra is not installed")
    c = dqn.DQNConfig.preset("MinAtar/SpaceInvaders-v1")
    assert (c.batch_size, c.buffer_size, c.target_update, c.train_every, c.learning_starts) == (32, 100_000, 1000, 1, 5000)
    assert (c.eps_start, c.eps_end, c.eps_decay_steps, c.gamma, c.n_step, c.num_envs) == (1.0, 0.1, 100_000, 0.99, 1, 1)
    assert (c.loss, c.double_dqn, c.time_window, c.frames) == ("huber", False, 4, 5_000_000)
    trainer = dqn.DQNTrainer(c, tmp_path / "run")
    group = trainer.opt.param_groups[0]
    assert type(trainer.opt).__name__ == "RMSprop"
    assert (group["lr"], group["alpha"], group["eps"], group["centered"]) == (2.5e-4, 0.95, 0.01, True)
    assert type(trainer.q).__name__ == "SpikingMinAtarQNet" and trainer.envs[0].obs_shape == (10, 10, 6)  # SpaceInvaders: 6 channels
    trainer.close()


def test_minatar_without_the_package_names_the_extra(tmp_path, capsys, monkeypatch):
    import gymnasium as gym

    for env_id in [k for k in gym.registry if k.startswith("MinAtar/")]:
        monkeypatch.delitem(gym.registry, env_id)
    monkeypatch.setitem(sys.modules, "minatar.gym", None)
    out = tmp_path / "run"
    assert cli.main(["train", "dqn", "--env", "MinAtar/Breakout-v1", "--out", str(out)]) == 2
    assert "needs the minatar package: pip install -e '.[rl]'" in capsys.readouterr().err
    assert not out.exists()


def test_an_epoch_evaluation_shows_its_bar_when_asked(tmp_path, capsys):
    """The loop asks evaluate_epoch for a bar of test episodes when training shows progress."""
    from dataclasses import replace

    trainer = dqn.DQNTrainer(replace(dqn.DQNConfig.preset("CartPole-v1"), test_episodes=2, threads=1),
                             tmp_path / "run")
    try:
        lengths = []
        assert len(trainer.evaluate_epoch(0, progress=True, lengths=lengths)) == 2 and len(lengths) == 2
        assert "evaluating" in capsys.readouterr().err
        trainer.evaluate_epoch(0, progress=False)
        assert "evaluating" not in capsys.readouterr().err
    finally:
        trainer.close()
