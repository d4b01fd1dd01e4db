"""Nothing lost, nothing executed: model files that carry code are refused, checkpoints
survive truncation and SIGKILL at any moment, and a run that diverges stops before it
overwrites its last good checkpoint."""
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import load_agent, td3  # noqa: E402
from spikekern.rl import checkpoint  # noqa: E402
from spikekern.rl.checkpoint import CHECKPOINT, PREVIOUS, load_checkpoint  # noqa: E402
from spikekern.rl.guards import DivergedError  # noqa: E402
from test_td3 import rows, tiny  # noqa: E402


def steps(run):
    return [int(r["step"]) for r in rows(run)]


class Payload:
    """Unpickling this creates a directory: the mark of code run by a loader."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_model_file_that_would_run_code_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    td3.run(tiny(steps=200), run, progress=False)
    marker = tmp_path / "pwned"
    st = torch.load(run / "model.pt", weights_only=True)
    st["extra"] = Payload(marker)
    torch.save(st, run / "model.pt")
    with pytest.raises(ValueError, match="holds more than tensors and plain values"):
        load_agent(run)
    assert cli.main(["eval", str(run), "--episodes", "1"]) == 2
    assert "was not loaded" in capsys.readouterr().err
    assert not marker.exists(), "loading executed code from the file"


def test_checkpoint_is_refused_by_eval(tmp_path, capsys):
    # checkpoint.pt (numpy RNG state, a pickled env) is not a model file: eval will not load it.
    run = tmp_path / "run"
    td3.run(tiny(steps=200), run, progress=False)
    os.replace(run / CHECKPOINT, run / "model.pt")
    assert cli.main(["eval", str(run), "--episodes", "1"]) == 2
    assert "holds more than tensors and plain values" in capsys.readouterr().err


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    run = tmp_path / "run"
    td3.run(tiny(steps=200), run, progress=False)
    assert torch.load(run / PREVIOUS, weights_only=False)["step"] == 100
    data = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match=r"checkpoint.pt is damaged .*resuming from .*checkpoint.prev.pt \(step 100\)"):
        result = td3.run(None, run, resume=True, progress=False, overrides=dict(steps=300))
    assert result["step"] == 300 and steps(run) == [100, 200, 300]
    assert torch.load(run / CHECKPOINT, weights_only=False)["step"] == 300


class SignalMidWrite:
    """A file that receives SIGTERM on its third write: a signal inside torch.save."""

    def __init__(self, f):
        self.f, self.writes = f, 0

    def write(self, data):
        self.writes += 1
        if self.writes == 3:
            signal.raise_signal(signal.SIGTERM)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


def signal_inside_first_save(monkeypatch):
    real, saves = torch.save, []

    def save(obj, f, *args, **kwargs):
        saves.append(f)
        return real(obj, SignalMidWrite(f) if len(saves) == 1 else f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save)
    return saves


def test_a_signal_inside_a_save_waits_until_the_file_is_in_place(tmp_path, monkeypatch):
    # An interrupt raised inside torch.save breaks its zip writer (torch then raises a
    # RuntimeError and no file is written): the save holds it and delivers it afterwards.
    signal_inside_first_save(monkeypatch)
    before = signal.getsignal(signal.SIGTERM)
    with checkpoint.interrupt_on_sigterm(), pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_save(dict(w=torch.arange(100_000.0)), tmp_path / "f.pt")
    assert torch.equal(torch.load(tmp_path / "f.pt")["w"], torch.arange(100_000.0))
    assert not (tmp_path / "f.pt.tmp").exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_during_an_epoch_save_saves_and_resumes(tmp_path, monkeypatch):
    run = tmp_path / "run"
    saves = signal_inside_first_save(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        td3.run(tiny(steps=300), run, progress=False)
    assert len(saves) >= 2  # the epoch's save, finished, then the interrupted run's own
    assert load_checkpoint(run)["step"] == 100 and steps(run) == [100]
    monkeypatch.undo()
    result = td3.run(None, run, resume=True, progress=False)
    assert result["step"] == 300 and steps(run) == [100, 200, 300]


def test_no_readable_checkpoint_is_one_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    td3.run(tiny(steps=200), run, progress=False)
    for name in (CHECKPOINT, PREVIOUS):
        (run / name).write_bytes(b"")
    assert cli.main(["train", "td3", "--resume", str(run)]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err


def _mtime(path) -> int:
    """The file's mtime in ns, 0 while it is absent: a checkpoint write moves checkpoint.pt
    aside (to checkpoint.prev.pt) a moment before renaming the new one into place."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _kill_during_a_write(proc, tmp: Path, delay: float, deadline: float) -> bool:
    """SIGKILL `proc` while it writes a checkpoint: `delay` seconds after the temporary file
    appears, stop the process (SIGSTOP, waited for), and kill it only if the file still exists
    while it is stopped; otherwise let it go on to its next write. False at the deadline."""
    while time.time() < deadline:
        if tmp.exists():
            time.sleep(delay)
            proc.send_signal(signal.SIGSTOP)
            os.waitpid(proc.pid, os.WUNTRACED)  # returns once the process has stopped
            if tmp.exists():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.001)
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_run_unresumable(tmp_path):
    # A run that checkpoints every 10 steps is killed with SIGKILL 10 times: every other
    # time at a random moment, otherwise a random few milliseconds into a checkpoint write
    # (made certain by stopping the process first). After every kill the run must resume,
    # losing at most its newest checkpoint.
    run = tmp_path / "run"
    tmp = run / (CHECKPOINT + ".tmp")
    args = [sys.executable, "-m", "spikekern.cli", "train", "td3", "--steps", "100000", "--start-steps", "100000",
            "--epoch-steps", "10", "--test-episodes", "1", "--max-ep-len", "10", "--threads", "1", "--no-progress",
            "--hidden-sizes", "1024", "1024"]  # checkpoints of ~50 MB: writing them takes a while
    rng = random.Random(0)
    last_step, mid_write = 0, 0
    for kill in range(10):
        cmd = args + (["--resume", str(run)] if kill else ["--out", str(run)])
        before = _mtime(run / CHECKPOINT)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60  # until this process has written a checkpoint of its own
        while time.time() < deadline and _mtime(run / CHECKPOINT) in (0, before):
            time.sleep(0.01)
        if kill % 2:
            time.sleep(rng.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        else:
            assert _kill_during_a_write(proc, tmp, rng.uniform(0.0, 0.02), time.time() + 120), \
                "no checkpoint write was caught in 120 s"
            mid_write += 1
            assert tmp.exists()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fallback to the previous checkpoint is allowed
            st = load_checkpoint(run)
        assert st["step"] >= last_step, (kill, st["step"], last_step)  # never older than before this attempt
        last_step = st["step"]
    print(f"10 kills, {mid_write} of them during a checkpoint write; resumable after each")
    assert mid_write == 5 and last_step > 0
    result = td3.run(None, run, resume=True, progress=False, overrides=dict(steps=last_step + 20))
    assert result["step"] == last_step + 20


def test_exploding_critic_stops_before_saving_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "td3", "--steps", "300", "--start-steps", "50", "--update-after", "150", "--epoch-steps", "100",
            "--test-episodes", "1", "--hidden-sizes", "16", "16", "--batch-size", "16", "--max-ep-len", "50",
            "--threads", "1", "--no-progress", "--critic-lr", "1e6", "--out", str(run)]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert "training diverged at step" in err and "last good checkpoint (step 100)" in err, err
    st = load_checkpoint(run)
    assert st["step"] == 100 and all(torch.isfinite(v).all() for v in st["agent"].values() if v.is_floating_point())
    assert cli.main(["train", "td3", "--resume", str(run), "--critic-lr", "0.001", "--no-progress"]) == 0
    assert steps(run) == [100, 200, 300]


def test_non_finite_observation_is_reported_not_normalised(tmp_path):
    trainer = td3.TD3Trainer(tiny(steps=300), tmp_path / "run")
    real_step = trainer.envs[0].step

    def once_nan(action):
        obs, r, term, trunc, info = real_step(action)
        if trainer.step == 119:
            obs = obs.copy()
            obs[1] = np.nan
        return obs, r, term, trunc, info

    trainer.envs[0].step = once_nan
    with pytest.raises(DivergedError, match=r"non-finite observation at step 120 .*last good checkpoint \(step 100\)"):
        trainer.train(progress=False)
    assert torch.isfinite(trainer.agent.norm.mean).all() and torch.isfinite(trainer.agent.norm.var).all()
    assert trainer.buffer.size == 119 and np.isfinite(trainer.buffer.obs2[:119]).all()
    assert load_checkpoint(tmp_path / "run")["step"] == 100


def test_timed_checkpoints_inside_an_epoch_bound_what_a_crash_loses(tmp_path, monkeypatch):
    """With checkpoint_minutes, a run saves between epochs too: a crash that leaves no chance to
    save (here an OSError; a SIGKILL alike) loses only the steps since the last timed save; the
    saves change nothing, and the resumed run is the uninterrupted one, bit for bit."""
    from spikekern.rl import loop

    td3.run(tiny(steps=300), tmp_path / "straight", progress=False)

    class Clock:  # a minute passes at every reading: the timed save comes after every step
        now = 0.0

        @classmethod
        def perf_counter(cls):
            cls.now += 60.0
            return cls.now

    monkeypatch.setattr(loop, "time", Clock)
    td3.run(tiny(steps=300, checkpoint_minutes=1.0), tmp_path / "timed", progress=False)
    trainer = td3.TD3Trainer(tiny(steps=300, checkpoint_minutes=1.0), tmp_path / "run")
    step_once = trainer.step_once

    def crash():  # on the trainer, not the env: the checkpoint pickles the env
        if trainer.step == 170:
            raise OSError("the machine went away")
        step_once()

    trainer.step_once = crash
    with pytest.raises(OSError, match="went away"):
        trainer.train(progress=False)
    assert load_checkpoint(tmp_path / "run")["step"] == 170
    monkeypatch.undo()
    result = td3.run(None, tmp_path / "run", resume=True, progress=False, overrides=dict(checkpoint_minutes=0.0))
    assert result["step"] == 300 and steps(tmp_path / "run") == [100, 200, 300]
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)["agent"]
    for run in ("timed", "run"):  # saving changed nothing; the resumed run is the straight one
        b = torch.load(tmp_path / run / "model.pt", weights_only=True)["agent"]
        assert all(torch.equal(a[n], b[n]) for n in a), run
