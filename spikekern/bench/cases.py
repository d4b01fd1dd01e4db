"""What is benchmarked: each neuron at a size, in a mode, on a backend.

Minimal bytes per neuron-step (what any implementation must move, with the input and
spikes in the input's dtype and the saved potential h in float32):
  fwd (no grad):  read x, write s                              = 2 * isz
  fwd+bwd:        fwd reads x, writes s and h; bwd reads grad_s
                  and h, writes grad_x                          = 4 * isz + 2 * 4
                  (PLIF's parameter gradient needs nothing more: it comes from h,
                  NEURONS.md §10; CLIF's fwd also writes, and its bwd reads, m in
                  float32: + 2 * 4)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .. import ops

MODES = ("fwd", "fwd+bwd")


@dataclass(frozen=True)
class Case:
    neuron: str   # "lif", "cuba_lif", "ilc_cuba_lif", "plif", "clif"
    T: int
    batch: int    # N neurons for lif/cuba; batch size for ILC
    A: int = 0    # ILC groups
    P: int = 0    # ILC population per group

    @property
    def neurons(self) -> int:
        return self.batch * self.A * self.P if self.neuron == "ilc_cuba_lif" else self.batch

    @property
    def label(self) -> str:
        if self.neuron == "ilc_cuba_lif":
            return f"T={self.T} B={self.batch} A={self.A} P={self.P}"
        n = self.batch
        size = f"2^{n.bit_length() - 1}" if n & (n - 1) == 0 else str(n)
        return f"T={self.T} N={size}"

    def min_bytes(self, mode: str, dtype: torch.dtype) -> int:
        isz = torch.empty((), dtype=dtype).element_size()
        extra = {"clif": 2 * 4}.get(self.neuron, 0)
        per_step = 2 * isz if mode == "fwd" else 4 * isz + 2 * 4 + extra
        return per_step * self.T * self.neurons


def make_inputs(case: Case, dtype=torch.float32, device="cpu", seed=0) -> dict:
    g = torch.Generator(device="cpu").manual_seed(seed)
    if case.neuron == "ilc_cuba_lif":
        shape = (case.T, case.batch, case.A * case.P)
    else:
        shape = (case.T, case.batch)
    # Scales that make the neurons fire at a realistic rate (roughly 10-30%).
    x = (torch.randn(shape, generator=g) * 0.8 + 0.3).to(device=device, dtype=dtype)
    inputs = {"x": x, "grad": torch.randn(shape, generator=g).to(device=device, dtype=dtype)}
    if case.neuron == "ilc_cuba_lif":
        inputs["weight"] = (torch.randn(case.A, case.P, case.P, generator=g) / case.P ** 0.5).to(device, dtype)
        inputs["bias"] = torch.zeros(case.A, case.P, device=device, dtype=dtype)
    if case.neuron == "plif":  # SpikingJelly's initial w: tau = 2
        inputs["w"] = torch.zeros((), device=device)
    return inputs


# Each neuron's call, f(inputs, backend) -> spikes, at its seed defaults. Every neuron here
# but ILC-CUBA-LIF (whose cases need its group shape) gets the bench's standard case,
# T=16, N=2^20 (report.py), so a new neuron joins the bench by its line here.
NEURON_FNS: dict[str, Callable] = {
    "lif": lambda i, backend: ops.lif(i["x"], backend=backend),
    "cuba_lif": lambda i, backend: ops.cuba_lif(i["x"], backend=backend),
    "ilc_cuba_lif": lambda i, backend: ops.ilc_cuba_lif(i["x"], i["weight"], i["bias"], backend=backend),
    "plif": lambda i, backend: ops.plif(i["x"], i["w"], backend=backend),
    "clif": lambda i, backend: ops.clif(i["x"], backend=backend),
}


def neuron_fn(case: Case) -> Callable:
    return NEURON_FNS[case.neuron]


def runner(case: Case, mode: str, inputs: dict, backend: str) -> Callable[[], None]:
    """A no-argument callable doing one forward (no grad) or one forward+backward."""
    f = neuron_fn(case)
    if mode == "fwd":
        def run():
            with torch.no_grad():
                f(inputs, backend)
        return run
    params = [k for k in ("weight", "bias", "w") if k in inputs]  # the neuron's own parameters
    grad_inputs = {k: (v.detach().requires_grad_(True) if k in ["x", *params] else v)
                   for k, v in inputs.items()}
    wrt = [grad_inputs[k] for k in ["x", *params]]

    def run():
        s = f(grad_inputs, backend)
        torch.autograd.grad(s, wrt, grad_inputs["grad"])
    return run


def copy_runner(case: Case, dtype=torch.float32, device="cpu") -> tuple[Callable[[], None], int]:
    """A plain tensor copy of one x-sized tensor and the bytes it moves (read + write)."""
    shape = (case.T, case.neurons)
    src = torch.randn(shape, device=device).to(dtype)
    dst = torch.empty_like(src)
    return (lambda: dst.copy_(src)), 2 * src.numel() * src.element_size()
