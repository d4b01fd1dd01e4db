"""`spikekern sweep` on Ray and `spikekern report`: a tiny local sweep end to end, re-runs that
start nothing, a bad grid entry that fails before any trial, and a two-node cluster on this
machine that loses a node mid-sweep (its trial resumes from its checkpoint on the head)."""
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")
pytest.importorskip("ray", reason="the [sweep] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.sweep import summary as report  # noqa: E402
from spikekern.sweep.ray_runner import ATTEMPTS  # noqa: E402

TINY = ["--start-steps", "100", "--update-after", "100", "--epoch-steps", "100", "--test-episodes", "1",
        "--hidden-sizes", "16", "16", "--batch-size", "16", "--replay-size", "2000", "--max-ep-len", "50",
        "--spike-ts", "2"]


def sweep(out, *args, env=None, timeout=600):
    cmd = [sys.executable, "-m", "spikekern.cli", "sweep", "td3", "--env", "Pendulum-v1", *TINY, *args, "--out", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def attempts(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / ATTEMPTS).read_text().splitlines()]


def progress_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "progress.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_local_sweep_end_to_end_then_rerun_starts_nothing(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["--actor", "ilc-san", "ann", "--seeds", "0", "1", "--steps", "300"]
    done = sweep(out, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trials 4 done, 0 running, 0 pending, 0 failed" in done.stdout
    runs = [out / "Pendulum-v1" / agent / f"seed{s}" for agent in ("ilc-san", "ann") for s in (0, 1)]
    for run in runs:
        assert progress_steps(run) == [100, 200, 300]
        assert json.loads((run / "config.json").read_text())["threads"] == 1  # = --cpus-per-trial
        assert cli.main(["eval", str(run), "--episodes", "1"]) == 0
    assert capsys.readouterr().out.count("return over 1 episodes") == 4
    with open(out / "summary.csv", newline="") as f:
        rows = {(r["env"], r["agent"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("Pendulum-v1", "ilc-san"), ("Pendulum-v1", "ann")}
    for (_, agent), r in rows.items():
        finals = [float(next(csv.DictReader(open(out / "Pendulum-v1" / agent / f"seed{s}" / "progress.csv")))
                        ["test_return"]) for s in (0, 1)]
        assert r["seeds"] == "0 1" and r["steps"] == "300"
        assert float(r["best_return_mean"]) >= float(r["final_return_mean"])
        assert float(r["best_return_mean"]) >= sum(finals) / 2  # best is the max over evaluations, first included
    md = (out / "summary.md").read_text()
    assert "| Pendulum-v1 | ilc-san | 0 1 |" in md and "| Pendulum-v1 | ann | 0 1 |" in md
    assert (out / "curves_Pendulum-v1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    activity = md[md.index("## What the networks did at the last evaluation"):]
    assert "| Pendulum-v1 | ilc-san | 0 1 |" in activity and "hidden_neurons.0" in activity
    assert "| Pendulum-v1 | ann | 0 1 |" in activity

    again = sweep(out, *args)  # the same command: everything is finished
    assert again.returncode == 0, again.stderr
    assert "4 of 4 trials already finished" in again.stdout
    assert all(len(attempts(run)) == 1 for run in runs)


@pytest.mark.parametrize("argv,message", [
    (["--env", "Pendulum-v1", "CartPole-v1"], "Discrete action space; TD3 needs continuous"),
    (["--env", "Pendulum-v1", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
    (["--actor", "ilc-san", "snn"], "unknown actor 'snn'"),
    (["--backend", "cuda"], "backend 'cuda' is not available on cpu"),
    (["--cpus-per-trial", "0"], "--cpus-per-trial must be at least 1"),
    (["--gpus-per-trial", "0.5"], "--gpus-per-trial > 0 goes with --device cuda"),
])
def test_bad_grid_entry_fails_before_any_trial(tmp_path, capsys, argv, message):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", "td3", "--steps", "100", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_same_message_as_train(tmp_path, capsys):
    assert cli.main(["train", "td3", "--env", "CartPole-v1", "--out", str(tmp_path / "a")]) == 2
    train_msg = capsys.readouterr().err.split(": ", 1)[1]
    assert cli.main(["sweep", "td3", "--env", "CartPole-v1", "--out", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err.split(": ", 1)[1] == train_msg


def test_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert cli.main(["sweep", "td3", "--steps", "100", "--out", str(tmp_path / "s")]) == 2
    assert 'pip install -e ".[sweep]"' in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_report_of_copied_folders_needs_no_ray(tmp_path):
    # Two seeds of one agent written by hand: the summary is their mean and population std.
    for seed, returns in ((0, [-900, -300, -500]), (1, [-800, -200, -100])):
        run = tmp_path / "Pendulum-v1" / "ann" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps(dict(algo="td3", env="Pendulum-v1", actor="ann", seed=seed)))
        with open(run / "progress.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "test_return", "time_s"])
            for i, r in enumerate(returns):
                w.writerow([1000 * (i + 1), r, 10.0 * (i + 1)])
    # seed 0 says which software made it (rl/provenance.py), seed 1 predates those records
    line = dict(start=0, commit="0123456789abcdef0123", dirty=False, torch="2.13.0+cpu", numpy="2.1.0",
                gymnasium="1.4.0")
    (tmp_path / "Pendulum-v1" / "ann" / "seed0" / "software.jsonl").write_text(json.dumps(line) + "\n")
    report.write(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    # a column per package provenance records, in its order
    assert "| spikekern commit | uncommitted changes | torch | numpy | gymnasium | mujoco | ale-py | minatar |" in md
    assert "| 0123456789ab | no | 2.13.0+cpu | 2.1.0 | 1.4.0 | - | - | - | - | 1 |" in md
    assert "| not recorded (runs made before software.jsonl was kept) | | | | | | | | | 1 |" in md
    row = next(csv.DictReader(open(tmp_path / "summary.csv")))
    assert float(row["final_return_mean"]) == pytest.approx(-300) and float(row["final_return_std"]) == pytest.approx(200)
    assert float(row["best_return_mean"]) == pytest.approx(-200) and float(row["best_return_std"]) == pytest.approx(100)
    assert float(row["env_steps_per_s"]) == pytest.approx(100) and row["steps"] == "3000"


def test_report_says_what_the_networks_did(tmp_path):
    # The last evaluation's activity columns, averaged over the seeds that logged them: seed 2
    # predates the columns and is left out of that section (not of the returns); seed 1's
    # test_length is blank (a run resumed across the column's arrival), so seed 0's stands.
    fields = ["step", "test_return", "time_s", "test_length", "rate/out", "pinned/out", "action_std",
              "action_saturated"]
    logged = {0: [1000, 0.4, 1.0, 0.0, 0.5], 1: ["", 0.2, 0.5, 0.1, 0.25]}
    for seed in (0, 1, 2):
        run = tmp_path / "Hopper-v5" / "popsan" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps(dict(algo="td3", env="Hopper-v5", actor="popsan", seed=seed)))
        with open(run / "progress.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(fields if seed in logged else fields[:3])
            w.writerow([1000, 5.0, 10.0, *logged.get(seed, [])])
    report.write(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    section = md[md.index("## What the networks did at the last evaluation"):md.index("## Software")]
    assert "| Hopper-v5 | popsan | 0 1 | 1000 | 0.050 | 37.5% | out 0.300 (75%) |" in section, section
    assert "| Hopper-v5 | popsan | 0 1 2 |" in md  # the returns' table has every seed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_node(*args, env) -> subprocess.Popen:
    # Its own session, so that killing its process group kills this node's raylet (its
    # workers die with their raylet).
    return subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--num-cpus", "1",
                             "--disable-usage-stats", *args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _accepts(port: int) -> bool:
    """Something listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_two_node_cluster_survives_losing_a_node(tmp_path):
    port = _free_port()
    # A short temp dir (Ray's socket paths must stay under 108 characters); no auth token
    # on this throwaway local cluster.
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_TMPDIR=tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    head = _ray_node("--head", "--port", str(port), "--include-dashboard=false", env=env)
    deadline = time.time() + 120  # until the head's GCS accepts connections
    while time.time() < deadline and not _accepts(port):
        time.sleep(0.1)
    assert _accepts(port), "the Ray head did not come up in 120 s"
    node2 = _ray_node("--address", f"127.0.0.1:{port}", env=env)
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "spikekern.cli", "sweep", "td3", "--env", "Pendulum-v1", *TINY,
                             "--actor", "ann", "--seeds", "0", "1", "--steps", "2000", "--address",
                             f"127.0.0.1:{port}", "--out", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    runs = [out / "Pendulum-v1" / "ann" / f"seed{s}" for s in (0, 1)]
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not all((r / "checkpoint.pt").exists() for r in runs):
            time.sleep(0.2)
        assert all((r / "checkpoint.pt").exists() for r in runs), "both trials should have run in parallel"
        os.killpg(node2.pid, signal.SIGKILL)  # the second node dies mid-sweep
        output, _ = proc.communicate(timeout=400)
    finally:
        for p in (proc, node2, head):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL) if p is not proc else p.kill()
    assert proc.returncode == 0, output
    starts = {r.name: [a["start"] for a in attempts(r)] for r in runs}
    retried = [name for name, s in starts.items() if len(s) == 2]
    assert len(retried) == 1, (starts, output)  # the trial that ran on the dead node, and only it
    assert starts[retried[0]][0] == 0 and starts[retried[0]][1] >= 100, starts  # resumed, not from step 0
    for r in runs:
        steps = progress_steps(r)
        assert steps == sorted(set(steps)) and steps[-1] == 2000, steps  # no step logged twice
    assert "trials 2 done, 0 running, 0 pending, 0 failed" in output


@pytest.mark.slow
def test_sigterm_on_a_background_sweep_checkpoints_every_running_trial(tmp_path):
    """A sweep started in the background (SIGINT ignored, as `nohup ... &` and batch jobs
    start it) and stopped with SIGTERM: each running trial saves a checkpoint past step 0,
    and running the same command again resumes from it."""
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "spikekern.cli", "sweep", "td3", "--env", "Pendulum-v1", *TINY, "--actor", "ann",
           "--seeds", "0", "1", "--steps", "200000", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    runs = [out / "Pendulum-v1" / "ann" / f"seed{s}" for s in (0, 1)]
    deadline = time.time() + 300
    while time.time() < deadline and not all((r / "progress.csv").exists() and progress_steps(r) for r in runs):
        time.sleep(1)
    assert all(progress_steps(r) for r in runs), "the trials did not start"
    proc.send_signal(signal.SIGTERM)
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "every running trial is checkpointed" in log, log[-3000:]
    steps = {}
    for r in runs:
        state = __import__("torch").load(r / "checkpoint.pt", weights_only=False)
        steps[r] = state["step"]
        assert 100 <= steps[r] < 200000, steps[r]
    again = sweep(out, "--actor", "ann", "--seeds", "0", "1", "--steps", str(max(steps.values()) + 100))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for r in runs:
        last = attempts(r)[-1]
        assert last["resumed"] and last["start"] >= steps[r]


def _trial_pids(run_dir: Path) -> list[int]:
    return [a["pid"] for a in attempts(run_dir)] if (run_dir / ATTEMPTS).exists() else []


@pytest.mark.slow
def test_a_crashed_trial_is_reported_and_the_others_finish(tmp_path):
    """Each trial trains in a process of its own: a segfault there fails that trial, with
    its cause in the sweep's output, and the other trial still finishes."""
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "spikekern.cli", "sweep", "td3", "--env", "Pendulum-v1", *TINY, "--actor", "ann",
           "--seeds", "0", "1", "--steps", "1000", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = [out / "Pendulum-v1" / "ann" / f"seed{s}" for s in (0, 1)]
    deadline = time.time() + 300
    # seed0 is killed as soon as its process starts, long before its 1000 steps are done.
    while time.time() < deadline and not _trial_pids(runs[0]):
        time.sleep(0.2)
    pid = _trial_pids(runs[0])[0]
    assert pid != proc.pid
    os.kill(pid, signal.SIGSEGV)
    log, _ = proc.communicate(timeout=400)
    assert proc.returncode == 1, log[-3000:]
    assert "Pendulum-v1/ann/seed0 FAILED: the trial's process was killed by signal 11" in log, log[-3000:]
    assert "trials 1 done, 0 running, 0 pending, 1 failed" in log
    assert progress_steps(runs[1])[-1] == 1000 and len(attempts(runs[0])) == 1  # not retried: a crash is a result


def test_the_trial_process_dies_with_its_task(tmp_path):
    """A trial's process never outlives the Ray worker that started it (a retried trial must
    not race an orphan for its run folder)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    from spikekern.sweep import trial_process, trials

    grid = trials.make_trials("td3", ["Pendulum-v1"], ["ann"], [0], dict(steps=10**6, threads=1), tmp_path / "sweep")
    task = ("import subprocess, sys, time, json\n"
            "p = subprocess.Popen(json.loads(sys.argv[1]))\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(600)\n")
    # The stand-in task starts the trial process, whose command names the task's own pid.
    cmd = trial_process.command(grid[0], "s", "", tmp_path / "result.json")
    parent = subprocess.Popen([sys.executable, "-c",
                               task.replace("json.loads(sys.argv[1])", "json.loads(sys.argv[1])[:-1] + [str(__import__('os').getpid())]"),
                               json.dumps(cmd)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    run_dir = Path(grid[0].run_dir)
    deadline = time.time() + 120
    while time.time() < deadline and not _trial_pids(run_dir):
        time.sleep(0.2)
    assert _trial_pids(run_dir) == [child], "the trial did not start"
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f"/proc/{child}") and "Z" not in _state(child):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or "Z" in _state(child), "the trial's process outlived its task"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "Z"


def test_a_trial_outcome_reads_its_result_file(tmp_path):
    from spikekern.sweep import trial_process

    path = tmp_path / "result.json"
    with pytest.raises(RuntimeError, match="killed by signal 9 without a result"):
        trial_process.outcome(path, -9)
    with pytest.raises(RuntimeError, match="exited with status 3 without a result"):
        trial_process.outcome(path, 3)
    trial_process._write(str(path), dict(error="ValueError: bad"))
    with pytest.raises(RuntimeError, match="^ValueError: bad$"):
        trial_process.outcome(path, 1)
    trial_process._write(str(path), dict(interrupted=True))
    with pytest.raises(KeyboardInterrupt):
        trial_process.outcome(path, trial_process.INTERRUPTED)
    trial_process._write(str(path), dict(result=dict(test_return=-123.5)))
    assert trial_process.outcome(path, 0) == {"test_return": -123.5}


def test_seeds_per_trial_groups_each_agents_seeds():
    from spikekern.sweep import trials

    grid = trials.make_trials("td3", ["Pendulum-v1"], ["ann", "popsan"], [0, 1, 2], dict(steps=100), Path("/s"),
                              seeds_per_trial=2)
    assert [(t.name, t.run_dir, t.seeds) for t in grid] == [
        ("Pendulum-v1/ann/seeds 0 1", "/s/Pendulum-v1/ann/seeds-0-1", [0, 1]),
        ("Pendulum-v1/ann/seed2", "/s/Pendulum-v1/ann/seed2", None),
        ("Pendulum-v1/popsan/seeds 0 1", "/s/Pendulum-v1/popsan/seeds-0-1", [0, 1]),
        ("Pendulum-v1/popsan/seed2", "/s/Pendulum-v1/popsan/seed2", None)]
    assert [str(p) for p in grid[0].run_dirs()] == ["/s/Pendulum-v1/ann/seeds-0-1/seed0",
                                                     "/s/Pendulum-v1/ann/seeds-0-1/seed1"]
    with pytest.raises(ValueError, match="--seeds-per-trial must be at least 1"):
        trials.make_trials("dqn", ["CartPole-v1"], ["dqn"], [0, 1], {}, Path("/s"), seeds_per_trial=0)


@pytest.mark.slow
def test_sweep_with_seeds_per_trial_then_rerun_starts_nothing(tmp_path):
    out = tmp_path / "sweep"
    args = ["--actor", "ilc-san", "--seeds", "0", "1", "2", "--seeds-per-trial", "2", "--steps", "200"]
    done = sweep(out, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trials 2 done, 0 running, 0 pending, 0 failed" in done.stdout
    for run in [out / "Pendulum-v1" / "ilc-san" / "seeds-0-1" / "seed0", out / "Pendulum-v1" / "ilc-san" / "seeds-0-1" / "seed1",
                out / "Pendulum-v1" / "ilc-san" / "seed2"]:
        assert progress_steps(run) == [100, 200]
    assert "| Pendulum-v1 | ilc-san | 0 1 2 |" in (out / "summary.md").read_text()
    again = sweep(out, *args)
    assert again.returncode == 0 and "2 of 2 trials already finished" in again.stdout, again.stdout + again.stderr
