"""TD3 trainer end to end on Pendulum (tiny sizes): each actor type trains, checkpoints,
resumes exactly, evaluates; bad input fails cleanly with nothing written."""
import csv
import dataclasses
import signal

import pytest
import torch

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import activity, load_agent, td3  # noqa: E402


def tiny(**kw) -> td3.TD3Config:
    base = dict(steps=300, start_steps=100, update_after=100, update_every=50, epoch_steps=100, test_episodes=2,
                hidden_sizes=(32, 32), batch_size=32, replay_size=1000, max_ep_len=100, threads=1)
    base.update(kw)
    return td3.TD3Config(**base)


def rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("actor", ["ilc-san", "popsan", "ann"])
def test_train_checkpoint_and_eval(tmp_path, actor, capsys):
    result = td3.run(tiny(actor=actor), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.json", "progress.csv", "checkpoint.pt", "model.pt", "learning_curve.png"):
        assert (run / name).exists(), name
    assert [int(r["step"]) for r in rows(run)] == [100, 200, 300]
    assert result["step"] == 300 and float(rows(run)[-1]["test_return"]) == result["test_return"]
    # The saved agent, loaded back, plays the last evaluation's episodes exactly again
    # (same seeds: the trainer's epoch-3 evaluation starts from seed 0 + 10000 * 4).
    returns = load_agent(run).evaluate(2, seed=40_000)
    assert sum(returns) / 2 == pytest.approx(result["test_return"], rel=1e-12)
    assert cli.main(["eval", str(run), "--episodes", "2"]) == 0
    assert "return over 2 episodes" in capsys.readouterr().out
    # Each evaluation also logged what the actor did, and the loaded agent does it again.
    last = rows(run)[-1]
    layers = [k for k in last if k.startswith("rate/")]
    assert bool(layers) == (actor != "ann") and all(0 <= float(last[k]) <= 1 for k in layers), last
    assert 0 <= float(last["action_saturated"]) <= 1 and float(last["action_std"]) >= 0
    assert float(last["test_length"]) == 100  # Pendulum never ends before max_ep_len
    policy = load_agent(run)
    with activity.Activity(*policy.spec.acting(policy.net)) as rec:
        policy.evaluate(2, seed=40_000)
    assert {k: float(last[k]) for k in rec.summary()} == rec.summary()
    assert cli.main(["eval", str(run), "--episodes", "2", "--activity", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "actions: std over steps" in out and ("hidden_neurons.0" in out) == (actor != "ann"), out


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path):
    td3.run(tiny(steps=400), tmp_path / "straight", progress=False)
    td3.run(tiny(steps=200), tmp_path / "split", progress=False)
    td3.run(None, tmp_path / "split", resume=True, progress=False, overrides=dict(steps=400))
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=False)["agent"]
    b = torch.load(tmp_path / "split" / "model.pt", weights_only=False)["agent"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    timings = ("steps_per_s", "time_s")
    same = [k for k in rows(tmp_path / "straight")[0] if k not in timings]
    assert "action_std" in same
    assert [[r[k] for k in same] for r in rows(tmp_path / "straight")] == \
        [[r[k] for k in same] for r in rows(tmp_path / "split")]


def test_each_start_of_a_run_records_its_software(tmp_path):
    """software.jsonl: one line per start (new, then resumed), with the checkout's commit and
    the libraries' versions; a folder outside any checkout has no commit."""
    import subprocess
    from pathlib import Path

    import spikekern
    from spikekern.rl import provenance

    td3.run(tiny(steps=200), tmp_path / "run", progress=False)
    td3.run(None, tmp_path / "run", resume=True, progress=False, overrides=dict(steps=300))
    lines = provenance.read(tmp_path / "run")
    assert [line["start"] for line in lines] == [0, 200]
    head = subprocess.run(["git", "-C", str(Path(spikekern.__file__).parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    for line in lines:
        assert line["torch"] == torch.__version__ and line["spikekern"] == spikekern.__version__
        assert line["commit"] == (head.stdout.strip() if head.returncode == 0 else None)
        assert isinstance(line["dirty"], bool) or line["commit"] is None
    assert provenance.git_state(tmp_path) == dict(commit=None, dirty=None)


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path, monkeypatch):
    cfg = tiny(steps=300)
    trainer = td3.TD3Trainer(cfg, tmp_path / "run")
    real_step = trainer.envs[0].step

    def interrupted(action):
        if trainer.step == 150:
            raise KeyboardInterrupt
        return real_step(action)

    monkeypatch.setattr(trainer.envs[0], "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(progress=False)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert saved["step"] == 150
    result = td3.run(None, tmp_path / "run", resume=True, progress=False)
    assert result["step"] == 300
    assert [int(r["step"]) for r in rows(tmp_path / "run")] == [100, 200, 300]


def test_an_interrupt_inside_a_class_definition_still_saves(tmp_path, monkeypatch):
    """Python 3.11 hands an interrupt that lands in a class definition (a module imported
    lazily, as matplotlib is by the first learning curve) on as a RuntimeError caused by it:
    the trainer treats it as the interrupt it is."""
    trainer = td3.TD3Trainer(tiny(steps=300), tmp_path / "run")
    real_step = trainer.envs[0].step

    def interrupted(action):
        if trainer.step == 150:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise RuntimeError("Error calling __set_name__ on 'cached_property' instance") from exc
        return real_step(action)

    monkeypatch.setattr(trainer.envs[0], "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(progress=False)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 150


def test_an_interrupt_inside_the_first_curve_is_not_lost(tmp_path, monkeypatch):
    """The first learning curve imports matplotlib, which imports mpl_toolkits inside an
    `except Exception`: an interrupt landing there (a RuntimeError in Python 3.11, above) was
    swallowed with a warning and the run trained on. The curve is drawn with interrupts held."""
    import warnings

    from spikekern.rl import loop

    def swallowing_plot(run_dir, title=""):
        try:  # as matplotlib/projections/__init__.py does around its import of Axes3D
            try:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C, during a class body of the import
            except KeyboardInterrupt as exc:
                raise RuntimeError("Error calling __set_name__ on 'cached_property' instance") from exc
        except Exception:
            warnings.warn("Unable to import Axes3D")

    monkeypatch.setattr(loop, "plot_curve", swallowing_plot)
    trainer = td3.TD3Trainer(tiny(steps=300), tmp_path / "run")
    # Python's own Ctrl-C handler, whatever this process inherited (a suite started in the
    # background, `cmd &`, starts with SIGINT ignored, and the raised signal would vanish).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            trainer.train(progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 100


@pytest.mark.parametrize("argv,message", [
    (["--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
    (["--env", "CartPole-v1"], "Discrete action space; TD3 needs continuous"),
    (["--backend", "cuda"], "backend 'cuda' is not available on cpu"),
    (["--backend", "fast"], "unknown backend 'fast'"),
    (["--actor", "snn"], "unknown actor 'snn'"),
    (["--actor", "ann", "--neuron", "lif"], "--neuron lif is for spiking actors"),
    (["--neuron", "alif"], "unknown neuron 'alif'"),
])
def test_bad_input_fails_cleanly(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert cli.main(["train", "td3", "--steps", "10", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_resume_refuses_to_overwrite(tmp_path, capsys):
    td3.run(tiny(steps=100), tmp_path / "run", progress=False)
    assert cli.main(["train", "td3", "--out", str(tmp_path / "run")]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_defaults_are_the_ilc_san_script():
    c = td3.TD3Config()
    assert (c.spike_ts, c.encoder_pop_dim, c.decoder_pop_dim, c.encoder_var, c.mean_range) == (5, 10, 10, 0.15, (-3.0, 3.0))
    assert (c.actor_lr, c.critic_lr, c.batch_size, c.replay_size, c.gamma, c.polyak) == (1e-4, 1e-3, 100, 1_000_000, 0.99, 0.995)
    # encoder_var is a variance: the scripts' encoder starts with std = sqrt(encoder_var)
    actor = td3.build_actor(c, obs_dim=3, act_dim=2, act_limit=1.0)
    assert torch.allclose(actor.encoder.std, torch.full_like(actor.encoder.std, 0.15 ** 0.5))
    assert float(actor.encoder.mean.min()) == -3.0 and float(actor.encoder.mean.max()) == 3.0
    assert (c.start_steps, c.update_after, c.update_every, c.act_noise, c.target_noise, c.noise_clip, c.policy_delay) == \
        (10_000, 1_000, 50, 0.1, 0.2, 0.5, 2)
    assert (c.max_ep_len, c.epoch_steps, c.test_episodes, c.obs_clip, c.hidden_sizes) == (1000, 10_000, 10, 3.0, (256, 256))
    assert dataclasses.replace(c, actor="popsan").decode_mode() == "fr-mlp"


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint(tmp_path):
    # What a job scheduler (or `timeout`) sends: the run saves its checkpoint and exits 130.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "spikekern.cli", "train", "td3", "--steps", "100000",
                             "--start-steps", "100000", "--hidden-sizes", "16", "16", "--epoch-steps", "50",
                             "--test-episodes", "1", "--out", str(out), "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120  # until the first evaluation is logged: the run is under way
    while time.time() < deadline and not ((out / "progress.csv").exists() and rows(out)):
        time.sleep(0.05)
    assert (out / "progress.csv").exists() and rows(out), "no evaluation was logged in 120 s"
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "checkpoint saved" in output
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] >= 50


def test_two_trainers_keep_their_own_backends(tmp_path):
    """Each trainer hands its --backend to its models; nothing sets a process-wide default, so
    two trainers in one process (cpp and reference) each run on their own."""
    import spikekern

    before = spikekern.get_backend()
    fused = td3.TD3Trainer(tiny(backend="cpp"), tmp_path / "cpp")
    loop = td3.TD3Trainer(tiny(backend="reference"), tmp_path / "ref")
    assert spikekern.get_backend() == before

    def backends(trainer):
        return {m.backend for m in trainer.agent.actor.modules() if hasattr(m, "backend") and
                isinstance(m, torch.nn.Module) and m.__class__.__module__.startswith("spikekern.nn")}

    assert backends(fused) == {"cpp"} and backends(loop) == {"reference"}
    obs = torch.randn(4, 1, 3)  # [B, K, obs]: the trainer holds its seeds (here one) stacked
    with spikekern.use_backend("reference"):  # a user's scoped default does not override an explicit backend
        with torch.autograd.profiler.profile() as prof:
            fused.agent.actor(obs)
    assert any(e.name.startswith("spikekern::") for e in prof.function_events)


def test_an_epoch_evaluation_shows_its_bar_when_asked(tmp_path, capsys):
    """The loop asks evaluate_epoch for a bar of test episodes when training shows progress."""
    trainer = td3.TD3Trainer(tiny(test_episodes=2), tmp_path / "run")
    try:
        lengths = []
        assert len(trainer.evaluate_epoch(0, progress=True, lengths=lengths)) == 2 and lengths == [100, 100]
        assert "evaluating" in capsys.readouterr().err
        trainer.evaluate_epoch(0, progress=False)
        assert "evaluating" not in capsys.readouterr().err
    finally:
        trainer.close()
