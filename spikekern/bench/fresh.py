"""Measuring in fresh processes: a benchmark script re-runs itself as a child, which prints
its result as one `RESULT <json>` line; the parent collects it. Used where what is measured
depends on the process's state (the allocator, the CPU build chosen at load time, where the
buffers land)."""
from __future__ import annotations

import json
import subprocess
import sys

_PREFIX = "RESULT "


def emit(result: dict) -> None:
    """In the child: hand the result to the parent."""
    print(_PREFIX + json.dumps(result), flush=True)


def run(cmd: list[str], what: str, env: dict | None = None, echo: bool = False) -> dict:
    """Run the child `cmd` and return its result; `echo` prints its other output. A child
    that fails or prints no result stops the benchmark, with its stderr's tail."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(_PREFIX):
            result = json.loads(line[len(_PREFIX):])
        elif echo:
            print(line, flush=True)
    if proc.returncode != 0 or result is None:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{what} failed")
    return result
