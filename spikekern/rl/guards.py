"""Divergence guards: a run whose losses, parameters or observations stop being finite is
stopped at once, with the step and the offending value named, before anything is saved over
its last good checkpoint (from which `--resume` then continues, e.g. with a lower learning
rate)."""
from __future__ import annotations

import math

import numpy as np
import torch


class DivergedError(RuntimeError):
    """Training produced (or the env returned) a non-finite value."""


def _tail(saved_step) -> str:
    if saved_step is None:
        return "no checkpoint had been written yet"
    return f"nothing was saved over the last good checkpoint (step {saved_step}); --resume continues from it"


def check_loss(name: str, value: float, step: int, saved_step) -> None:
    if not math.isfinite(value):
        raise DivergedError(f"training diverged at step {step}: the {name} is {value}; {_tail(saved_step)}")


def check_parameters(module: torch.nn.Module, step: int, saved_step) -> None:
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise DivergedError(f"training diverged at step {step}: parameter {name} holds non-finite values; "
                                f"{_tail(saved_step)}")


def check_observation(obs, step: int, saved_step) -> None:
    a = np.asarray(obs)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DivergedError(f"the env returned a non-finite observation at step {step} ({a.ravel()[:8].tolist()}); "
                            f"it was not added to the normaliser or the replay; {_tail(saved_step)}")
