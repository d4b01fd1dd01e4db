"""Time and size of a TD3 checkpoint at 1M steps of HalfCheetah-v5 (obs 17, act 6, the
ILC-SAN actor and critics at their default sizes, a full 1M-transition replay buffer), as
save_checkpoint writes it (temporary file, fsync, rename, previous kept), against a plain
torch.save + rename. Needs no MuJoCo: the buffer is filled with random transitions.

    python benchmarks/checkpoint_cost.py --out benchmarks/results/cpu/checkpoint_cost.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spikekern.rl import td3
from spikekern.rl.checkpoint import CHECKPOINT, rng_state, save_checkpoint
from spikekern.rl.replay import ReplayBuffer

OBS, ACT, STEPS = 17, 6, 1_000_000


def state(buffer: ReplayBuffer) -> dict:
    cfg = td3.TD3Config(env="HalfCheetah-v5")
    agent = td3.Agent(cfg, OBS, ACT, 1.0)
    pi_opt = torch.optim.Adam(agent.actor.parameters())
    q_opt = torch.optim.Adam(list(agent.q1.parameters()) + list(agent.q2.parameters()))
    for opt in (pi_opt, q_opt):  # Adam's moments exist after the first step
        for g in opt.param_groups:
            for p in g["params"]:
                p.grad = torch.zeros_like(p)
        opt.step()
    return dict(config=dataclasses.asdict(cfg), agent=agent.state_dict(), pi_opt=pi_opt.state_dict(),
                q_opt=q_opt.state_dict(), buffer=buffer.state_dict(), rng=rng_state(np.random.default_rng(0)),
                step=STEPS, updates=STEPS, episodes=1000, last_return=0.0, time_s=0.0, env=None)


def plain_save(obj, path: Path) -> None:
    """What the trainers did before: torch.save to a temporary file, rename."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(OBS, ACT, STEPS)
    for name in ("obs", "obs2", "act", "rew", "done"):
        getattr(buffer, name)[:] = rng.standard_normal(getattr(buffer, name).shape).astype(np.float32)
    buffer.ptr, buffer.size = 0, STEPS
    rows = {}
    with tempfile.TemporaryDirectory(dir=".") as d:
        for label, save in (("torch.save + rename", lambda st: plain_save(st, Path(d) / CHECKPOINT)),
                            ("save_checkpoint (fsync, previous kept)", lambda st: save_checkpoint(st, Path(d)))):
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                save(state(buffer))  # the state dict is built as the trainer builds it, every epoch
                times.append(time.perf_counter() - t0)
            rows[label] = dict(seconds=min(times), all_seconds=times, bytes=(Path(d) / CHECKPOINT).stat().st_size)
            print(f"{label}: {min(times):.2f} s (best of {args.repeats}), {rows[label]['bytes'] / 2**20:.0f} MiB",
                  flush=True)
    epoch_s = 10_000 / 85.0  # an epoch of the ILC-SAN script on this machine: 10k steps at ~85 steps/s
    result = dict(steps=STEPS, results=rows, epoch_seconds_assumed=epoch_s,
                  share_of_epoch={k: v["seconds"] / epoch_s for k, v in rows.items()})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
