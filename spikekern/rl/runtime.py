"""What every trainer does first: check and set the neuron backend, the thread count and
the device."""
from __future__ import annotations

import torch

import spikekern


def prepare(cfg) -> torch.device:
    """Validate cfg.backend for cfg.device (one clear error), make it the default backend,
    apply cfg.threads; returns the torch device."""
    if cfg.backend not in spikekern._backend.BACKENDS:
        raise ValueError(f"unknown backend {cfg.backend!r}; choose one of {list(spikekern._backend.BACKENDS)}")
    device = torch.device(cfg.device)
    if cfg.backend != "auto" and cfg.backend not in spikekern.available_backends(device):
        why = spikekern._backend._why_unavailable(cfg.backend, device.type)
        raise RuntimeError(f"backend {cfg.backend!r} is not available on {cfg.device}: {why}")
    spikekern.set_backend(cfg.backend)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return device
