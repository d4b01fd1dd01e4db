"""Which software made a run. Each start of a run, new or resumed, appends one line to
software.jsonl in its folder: spikekern's version and git commit (with whether the checkout
had uncommitted changes), the versions of the libraries that decide its numbers, Python,
the machine and the CPU kernels' instruction set. A results table made over many runs, some
resumed on other machines or from other commits, can then say what made each of its numbers
(`spikekern report` lists them)."""
from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

FILE = "software.jsonl"
# The distributions whose versions can change a run's numbers (the simulators and the math).
PACKAGES = ("torch", "numpy", "gymnasium", "mujoco", "ale-py", "minatar")


def git_state(folder: Path) -> dict:
    """{commit, dirty} of the git checkout holding `folder` (dirty: tracked files differ from
    the commit); both None where it is not in a checkout or git is not installed."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return dict(commit=None, dirty=None)
    status = git("status", "--porcelain", "--untracked-files=no")
    return dict(commit=commit.strip(), dirty=None if status is None else bool(status.strip()))


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_isa() -> str | None:
    try:
        from .. import cpu

        return cpu.isa()
    except RuntimeError:  # the compiled extension is not built: the reference loops run
        return None


def software() -> dict:
    """This process's software, as one record."""
    from .. import __version__

    return dict(spikekern=__version__, **git_state(Path(__file__).resolve().parent),
                **{name: _version(name) for name in PACKAGES}, python=platform.python_version(),
                platform=platform.platform(), cpu_isa=_cpu_isa(), host=socket.gethostname())


def record(run_dir: Path, start: int, info: dict | None = None) -> None:
    """Append this start of the run in run_dir (at env step or frame `start`) to its FILE;
    info: software() computed once for several runs of one process."""
    line = dict(time=time.time(), start=int(start), argv=sys.argv[1:], **(info or software()))
    with open(Path(run_dir) / FILE, "a") as f:
        f.write(json.dumps(line) + "\n")


def read(run_dir: Path) -> list[dict]:
    """The run's records, oldest first ([] for a run made before they were kept)."""
    path = Path(run_dir) / FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
