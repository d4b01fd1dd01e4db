"""Trained agents as users load them: `load_agent(run_dir)` reads a run's model.pt safely and
returns a Policy whose `act(obs)` gives actions.

model.pt holds only tensors and plain values (the config, the network weights, the
observation normaliser's statistics, shapes) and is read with `torch.load(...,
weights_only=True)`: a file that needs anything more is refused, so a model received from
someone else cannot run code when it is loaded. checkpoint.pt (exact resume of one's own
runs) is another matter: see spikekern/rl/checkpoint.py.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import torch

MODEL = "model.pt"


def load_model_file(run_dir: Path) -> dict:
    """A run's model.pt, loaded with weights_only=True; a clear error for anything else."""
    path = Path(run_dir) / MODEL
    if not path.exists():
        hint = " (a run writes it at its first evaluation)" if (Path(run_dir) / "config.json").exists() else ""
        raise FileNotFoundError(f"no {MODEL} in {run_dir}{hint}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} holds more than tensors and plain values, so it was not loaded (loading it "
                         f"could run code it carries): {first}") from None
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable model file: {exc}") from None


def run_algo(run_dir: Path) -> str:
    """The run's algorithm ('td3', 'dqn', ...), from its config.json."""
    from .algorithms import algorithms

    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    algo = json.loads(cfg_path.read_text()).get("algo")
    if algo not in algorithms():
        raise ValueError(f"{cfg_path}: unknown algo {algo!r}")
    return algo


class Policy:
    """A trained agent. `act(obs)` takes one observation or a batch, as a numpy array or a
    torch tensor, and returns the action(s) the same way: TD3 the deterministic actor's
    action, DQN the greedy action (an int for a single numpy observation)."""

    def __init__(self, algo, cfg, net: torch.nn.Module, obs_shape: tuple, device):
        """algo: the run's algorithms.Algorithm."""
        self.spec, self.algo = algo, algo.name
        self.cfg, self.net, self.obs_shape = cfg, net, tuple(obs_shape)
        self.device = torch.device(device)

    @torch.no_grad()
    def act(self, obs):
        is_torch = isinstance(obs, torch.Tensor)
        x = torch.as_tensor(np.asarray(obs) if not is_torch else obs, device=self.device)
        single = x.dim() == len(self.obs_shape)
        if tuple(x.shape[1:] if not single else x.shape) != self.obs_shape:
            raise ValueError(f"expected observations of shape {self.obs_shape} (or a batch of them), "
                             f"got {tuple(x.shape)}")
        out = self.spec.act(self.net, x.unsqueeze(0) if single else x)
        out = out[0] if single else out
        if is_torch:
            return out
        out = out.cpu().numpy()
        return int(out) if self.spec.discrete and single else out

    def evaluate(self, episodes: int, seed: int = 12345, video_dir=None, progress: bool = False) -> list[float]:
        """Returns of `episodes` test episodes, run as the trainer evaluates."""
        return self.spec.evaluate(self.net, self.cfg, episodes, seed, self.device, video_dir=video_dir,
                                  progress=progress)


def load_agent(run_dir, device="cpu", backend: str | None = None) -> Policy:
    """The agent saved in a run folder (`spikekern train` or a sweep trial), ready to act.

    backend: the spiking neurons' backend (default: the run's own, e.g. "auto")."""
    from .. import available_backends
    from .algorithms import get

    algo = get(run_algo(run_dir))
    st = load_model_file(run_dir)
    device = torch.device(device)
    cfg = algo.config_from_dict(st["config"])
    if backend is not None:
        cfg = dataclasses.replace(cfg, backend=backend)
    net, obs_shape = algo.load_net(cfg, st)
    if cfg.backend != "auto" and cfg.backend not in available_backends(device):
        raise RuntimeError(f"this agent was trained with backend {cfg.backend!r}, which is not available on "
                           f"{device.type} here; pass backend='auto' (or another backend) to load_agent")
    return Policy(algo, cfg, net.to(device).eval(), obs_shape, device)
