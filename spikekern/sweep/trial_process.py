"""One sweep trial in a process of its own.

A trial's Ray task (ray_runner.run_trial) does not train inside the Ray worker: it starts
`python -m spikekern.sweep.trial_process` and waits for it. Why:

- Speed. The same training ran about 10% slower inside a Ray worker than as a plain process
  beside another (docs/benchmarks.md, "Using the cores"); in a process of its own a trial
  runs exactly as `spikekern train` does.
- Isolation. A crash in native code (a segfault) ends this process only; the task reports it
  as the trial's failure and the sweep goes on with the other trials.

The trial comes in as JSON (the Trial's fields, written by the task: data, never code) and
the outcome goes back as JSON in a file the task names: {"result": ...}, {"error": "..."}
or {"interrupted": true}. The process dies with its task's worker (PR_SET_PDEATHSIG on
Linux): a retried trial never races an orphan for its run folder.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from ..rl.algorithms import get
from .trials import Trial

ATTEMPTS = "sweep_attempts.jsonl"  # one line per start of a trial: where, when, from which step
INTERRUPTED = 130  # exit status after SIGINT (128 + 2), once the checkpoint is saved


def train(trial: Trial, sweep_id: str, node_ip: str = "") -> dict:
    """Train the trial, or resume it from the checkpoint its run folder holds."""
    from ..rl.runtime import saved_run

    run_dir = Path(trial.run_dir)
    resume = saved_run(run_dir)  # a trial killed before its first checkpoint starts again
    spec = get(trial.algo)

    def record_start(trainer) -> None:
        line = dict(sweep=sweep_id, node=socket.gethostname(), ip=node_ip, pid=os.getpid(), time=time.time(),
                    resumed=resume, start=getattr(trainer, spec.column))
        with open(run_dir / ATTEMPTS, "a") as f:
            f.write(json.dumps(line) + "\n")

    if resume:
        return spec.run(None, run_dir, resume=True, progress=False, overrides=trial.given, on_start=record_start)
    return spec.run(trial.make_config(), run_dir, progress=False, on_start=record_start, seeds=trial.seeds)


def command(trial: Trial, sweep_id: str, node_ip: str, result_path: Path) -> list[str]:
    """The command line that runs `trial` in its own process."""
    fields = dict(algo=trial.algo, config=trial.config, given=trial.given, run_dir=trial.run_dir, seeds=trial.seeds)
    return [sys.executable, "-m", __name__, json.dumps(fields), sweep_id, node_ip, str(result_path), str(os.getpid())]


def outcome(result_path: Path, returncode: int) -> dict:
    """The trial's result, or the error that ended it (raised as RuntimeError, one line)."""
    try:
        message = json.loads(Path(result_path).read_text())
    except (OSError, ValueError):
        message = {}
    if "result" in message:
        return message["result"]
    if message.get("interrupted"):
        raise KeyboardInterrupt
    if "error" in message:
        raise RuntimeError(message["error"])
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
    raise RuntimeError(f"the trial's process {how} without a result (see the trial's log above)")


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _write(path: str, message: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(message, default=float))
    os.replace(tmp, path)  # whole or absent, never half written


def main(argv: list[str] | None = None) -> int:
    trial_json, sweep_id, node_ip, result_path, parent = argv if argv is not None else sys.argv[1:]
    _die_with_parent(int(parent))
    # Stopped by its task with SIGINT, the trainer saves a checkpoint (KeyboardInterrupt), even
    # where SIGINT came in as ignored (a sweep started with nohup or `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A Ray worker runs with SIGINT blocked, and a blocked signal mask is inherited: unblock
    # it, or the task's SIGINT would stay pending and the trial would never stop.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    trial = Trial(**json.loads(trial_json))
    try:
        result = train(trial, sweep_id, node_ip)
    except KeyboardInterrupt:
        _write(result_path, dict(interrupted=True))
        return INTERRUPTED
    except Exception as exc:
        _write(result_path, dict(error=f"{type(exc).__name__}: {exc}".splitlines()[0]))
        raise  # the traceback goes to the trial's log
    _write(result_path, dict(result=result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
