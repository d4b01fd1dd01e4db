"""Running a sweep's trials as Ray tasks.

Each trial is one Ray task with `cpus_per_trial` CPUs reserved; the task runs the trial as
a `spikekern train` run in a process of its own (trial_process.py says why) with that many
torch threads, so trials never oversubscribe the cores. Fault tolerance is Ray's and the
trainer's, nothing of our own: a task whose worker or node dies is retried by Ray
(`max_retries`), and a retried trial resumes from the checkpoint its run folder holds.
Ctrl-C cancels the tasks; each running task passes the interrupt on to its trial's process,
whose trainer saves its checkpoint before the task ends.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ..rl.checkpoint import interrupt_on_sigterm
from . import trial_process
from .trial_process import ATTEMPTS
from .trials import Trial, finished

POLL_S = 0.2  # how often a task looks at its trial's process (a sleep, so a cancel interrupts it at once)


def run_trial(trial: Trial, sweep_id: str) -> dict:
    """The body of a trial's Ray task: run the trial's process and return its result."""
    # ray.cancel interrupts a running task with KeyboardInterrupt, the way SIGINT does. A
    # sweep started in the background (nohup, `&`, a batch job) passes SIGINT on as ignored:
    # restore the default handler so a cancelled trial still checkpoints.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="spikekern-trial-") as tmp:
        result_path = Path(tmp) / "result.json"
        proc = subprocess.Popen(trial_process.command(trial, sweep_id, _node_ip(), result_path),
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))  # epoch lines reach the log at once
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second cancel must not orphan the trial
            proc.send_signal(signal.SIGINT)  # the trainer saves its checkpoint, then exits
            proc.wait()
            raise
        return trial_process.outcome(result_path, proc.returncode)


def _node_ip() -> str:
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - only informative
        return ""


def started_in(trial: Trial, sweep_id: str) -> bool:
    path = Path(trial.run_dir) / ATTEMPTS
    if not path.exists():
        return False
    return any(json.loads(line).get("sweep") == sweep_id for line in path.read_text().splitlines() if line.strip())


def import_ray():
    # Every trial's epoch lines are shown; Ray would otherwise fold similar lines of
    # different trials into one "[repeated Nx]" line. Read when ray is imported.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        import ray
    except ImportError:
        raise RuntimeError('spikekern sweep runs its trials on Ray, which is not installed: '
                           'pip install -e ".[sweep]" --no-build-isolation (or pip install "ray>=2.40")') from None
    return ray


def run(trials: list[Trial], *, address: str | None, cpus_per_trial: int, gpus_per_trial: float,
        max_retries: int, log=print, poll_s: float = 5.0) -> dict:
    """Run the unfinished trials; returns counts {done, skipped, failed}. Raises
    KeyboardInterrupt after Ctrl-C once every running trial has saved its checkpoint."""
    ray = import_ray()
    todo = [t for t in trials if not finished(t)]
    skipped = len(trials) - len(todo)
    if skipped:
        log(f"sweep: {skipped} of {len(trials)} trials already finished; skipping them")
    if not todo:
        return dict(done=0, skipped=skipped, failed=0)
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=True)
    else:  # a local Ray with this machine's CPUs
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=True)
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus_per_trial > cpus:
            raise RuntimeError(f"--cpus-per-trial {cpus_per_trial} is more than the {cpus:g} CPUs of the Ray cluster")
        sweep_id = uuid.uuid4().hex
        task = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=max_retries,
                          retry_exceptions=False, max_calls=1)(run_trial)
        refs = {task.options(name=t.name).remote(t, sweep_id): t for t in todo}
        log(f"sweep: {len(todo)} trials on Ray ({cpus:g} CPUs{', ' + address if address else ', local'}), "
            f"{cpus_per_trial} CPU(s) each")
        try:
            with interrupt_on_sigterm():  # a scheduler's SIGTERM stops the sweep as Ctrl-C does
                return dict(_wait(ray, refs, sweep_id, log, poll_s), skipped=skipped)
        except KeyboardInterrupt:
            pending = [r for r in refs if r not in ray.wait(list(refs), num_returns=len(refs), timeout=0)[0]]
            log(f"\nsweep: interrupted; asking {len(pending)} unfinished trials to save a checkpoint ...")
            for r in pending:
                ray.cancel(r)  # raises KeyboardInterrupt in a running trial: the trainer checkpoints
            ray.wait(pending, num_returns=len(pending), timeout=300)
            log("sweep: every running trial is checkpointed; run the same command again to continue")
            raise
    finally:
        ray.shutdown()


def _wait(ray, refs: dict, sweep_id: str, log, poll_s: float) -> dict:
    t0, left, done, failed, last = time.time(), list(refs), 0, 0, None
    while left:
        ready, left = ray.wait(left, num_returns=len(left), timeout=poll_s)
        for r in ready:
            trial = refs[r]
            try:
                result = ray.get(r)
                done += 1
                results = list(result["seeds"].values()) if "seeds" in result else [result]
                log(f"sweep: {trial.name} finished: test return "
                    + ", ".join(f"{r['test_return']:.1f} +- {r['test_return_std']:.1f}" for r in results))
            except Exception as exc:  # noqa: BLE001 - report every failed trial, go on with the rest
                failed += 1
                cause = str(getattr(exc, "cause", None) or exc).strip().splitlines()
                log(f"sweep: {trial.name} FAILED: {cause[-1] if cause else type(exc).__name__}")
        running = sum(started_in(refs[r], sweep_id) for r in left)
        line = f"{done} done, {running} running, {len(left) - running} pending, {failed} failed"
        if line != last:
            log(f"sweep [{(time.time() - t0) / 60:.1f} min]: trials {line}")
            sys.stdout.flush()
            last = line
    return dict(done=done, failed=failed)
