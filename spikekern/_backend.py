"""Backend names, the process-wide default, and resolution of "auto".

An explicitly requested backend that this build or device lacks raises an error naming
what is missing; nothing falls back silently.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import torch

BACKENDS = ("auto", "reference", "cpp", "cuda", "triton")
_default = "auto"


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
    return name


def set_backend(name: str) -> None:
    """Set the default backend for spikekern modules and ops called with backend="auto"."""
    global _default
    _default = _check_name(name)


def get_backend() -> str:
    return _default


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Scoped default backend: `with spikekern.use_backend("reference"): ...`."""
    global _default
    previous = _default
    _default = _check_name(name)
    try:
        yield
    finally:
        _default = previous


_available: set[tuple[str, str]] = set()  # (backend, device type) pairs found available


def why_unavailable(name: str, device: str | torch.device = "cpu") -> str | None:
    """None if backend `name` can run on tensors of `device` ("cpu", "cuda", a torch.device),
    else a sentence saying what is missing."""
    if _check_name(name) == "auto":  # always runs: the fastest backend, else the reference loop
        return None
    return _why_unavailable(name, torch.device(device).type)


def _why_unavailable(name: str, device_type: str) -> str | None:
    """why_unavailable for a concrete, already checked name and a device type: what every op
    call asks (through resolve), cached once a backend is found available."""
    if (name, device_type) in _available:  # availability, once found, does not go away
        return None
    why = _check_available(name, device_type)
    if why is None:
        _available.add((name, device_type))
    return why


def _check_available(name: str, device_type: str) -> str | None:
    from .backends import extension, triton_backend

    if name == "reference":
        return None
    if name == "cpp":
        if device_type != "cpu":
            return f"backend 'cpp' runs on CPU tensors; this tensor is on {device_type} (use 'cuda' or 'triton')"
        return extension.why_unavailable("cpu")
    if name == "cuda":
        if device_type != "cuda":
            return f"backend 'cuda' runs on CUDA tensors; this tensor is on {device_type} (use 'cpp')"
        return extension.why_unavailable("cuda")
    if name == "triton":
        return triton_backend.why_unavailable(device_type)
    raise AssertionError(name)


# Fastest first, per device type, as measured by `spikekern bench` (see README).
_AUTO_ORDER = {"cpu": ("cpp",), "cuda": ("cuda", "triton")}
_warned: set[str] = set()


def resolve(name: str | None, device: torch.device) -> str:
    """The concrete backend to run on `device` for a requested name (None = default). An op
    called with backend="auto" (its default) defers to the process-wide default, as API.md
    says; code that was handed an explicit "auto" (a module or model built with
    backend="auto") resolves it with fastest() instead."""
    name = _check_name(_default if name is None else name)
    if name == "auto":  # a per-call "auto" defers to the process-wide default
        name = _default
    if name != "auto":
        why = _why_unavailable(name, device.type)
        if why is not None:
            raise RuntimeError(f"spikekern backend {name!r} is not available: {why}")
        return name
    return fastest(device)


def fastest(device: torch.device) -> str:
    """"auto" itself: the fastest backend available for tensors on `device`, whatever the
    process-wide default is (the reference loop, with one warning, where none is fused)."""
    for candidate in _AUTO_ORDER.get(device.type, ()):
        if _why_unavailable(candidate, device.type) is None:
            return candidate
    if device.type not in _warned:
        _warned.add(device.type)
        reasons = "; ".join(
            f"{c}: {_why_unavailable(c, device.type)}" for c in _AUTO_ORDER.get(device.type, ())
        )
        warnings.warn(
            f"spikekern: no fused backend for {device.type} tensors ({reasons or 'none exists'}); "
            "backend='auto' runs the slow reference loop",
            RuntimeWarning,
            stacklevel=4,
        )
    return "reference"


def available_backends(device: str | torch.device = "cpu") -> list[str]:
    """Backends that can run on tensors of `device`, e.g. ["reference", "cpp"]."""
    device_type = torch.device(device).type
    return [n for n in BACKENDS[1:] if _why_unavailable(n, device_type) is None]
