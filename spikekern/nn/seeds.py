"""Many seeds of one model in one module: the seed dimension.

A module built with `seeds=K` holds K independent copies of its parameters, stacked along a
new leading dimension under the same names (a parameter of shape S in the single module is
[K, *S]), and takes input with the seed dimension just before the features:
[*batch, K, features] ([T, *batch, K, features] between spiking layers). Seed k of the
stacked module computes what the single module with parameters p[k] computes, so K seeds of
a small network cost one call of each operator instead of K. `stack_states` /
`unstack_state` convert between the two state dicts: a seed's weights are saved and loaded
in the single module's format.

Why this layout: elementwise neurons do not care where the seed dimension is; with it just
before the features, ILC-CUBA-LIF's A groups of seed k are groups k*A .. k*A+A-1 of one
[T, B, K*A*P] input (each seed its own lateral matrices, no copy), and a linear layer is K
products whose rows are evenly strided, which BLAS reads and writes in place (seed_linear).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class _SeedLinear(torch.autograd.Function):
    """y[..., k, :] = x[..., k, :] @ weight[k].T + bias[k] as one batched product over k,
    reading x and writing y in the [rows, K, features] layout directly (strided BLAS
    operands), so no activation is copied to a seed-major layout and back."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        K, O, I = weight.shape
        xm = x.reshape(-1, K, I)
        M = xm.shape[0]
        out = x.new_empty(M, K, O)
        torch.bmm(xm.transpose(0, 1), weight.transpose(1, 2), out=out.transpose(0, 1))
        if bias is not None:  # added in the output's own layout: contiguous, faster than baddbmm's strided copy
            out += bias
        ctx.save_for_backward(xm, weight)
        ctx.has_bias, ctx.x_shape = bias is not None, x.shape
        return out.view(*x.shape[:-1], O)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        xm, weight = ctx.saved_tensors
        K, O, I = weight.shape
        gm = grad.reshape(-1, K, O)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = gm.new_empty(gm.shape[0], K, I)
            torch.bmm(gm.transpose(0, 1), weight, out=gx.transpose(0, 1))
            gx = gx.view(ctx.x_shape)
        if ctx.needs_input_grad[1]:
            gw = torch.bmm(gm.transpose(0, 1).transpose(1, 2), xm.transpose(0, 1))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gm.sum(0)
        return gx, gw, gb


def one_seed(t: torch.Tensor | None, dim: int = 0) -> torch.Tensor | None:
    """t's only seed along `dim` (of size 1) as a view. Not t[0]: indexing's backward writes a
    zero tensor of t's whole size and then copies the gradient into it, at every step, while a
    squeeze's backward is a view (a 512 x 512 layer: a 1 MB fill and copy per update)."""
    return None if t is None else t.squeeze(dim)


def seed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """K linear layers at once: x [..., K, in], weight [K, out, in], bias [K, out] or None ->
    [..., K, out]. With K = 1 it is F.linear itself (the same bits as the single layer)."""
    if weight.dim() != 3 or x.dim() < 2 or x.shape[-2:] != (weight.shape[0], weight.shape[2]):
        raise ValueError(f"seed_linear: x must be [..., K, in] and weight [K, out, in]; got x {tuple(x.shape)} "
                         f"and weight {tuple(weight.shape)}")
    if weight.shape[0] == 1:
        return F.linear(x.squeeze(-2), one_seed(weight), one_seed(bias)).unsqueeze(-2)
    return _SeedLinear.apply(x, weight, bias)


# Several seeds run one spike_linear per seed on layers at least this wide (else one batched
# dense product): measured with benchmarks/seed_spike_linear.py on the models' layers.
SEED_SPIKES_MIN_IN, SEED_SPIKES_MIN_OUT = 128, 256


class SeedLinear(nn.Module):
    """nn.Linear for K seeds: weight [K, out, in], bias [K, out]; input [..., K, in]. Each seed
    is initialised as nn.Linear initialises its one layer. spikes=True: the input is spikes;
    one seed runs spikekern.ops.spike_linear (with `backend`), and several seeds run it once
    per seed on their own slices where that beats one batched dense product
    (per_seed_spikes()), else the batched product."""

    def __init__(self, in_features: int, out_features: int, seeds: int, bias: bool = True, spikes: bool = False,
                 backend: str | None = None):
        super().__init__()
        self.in_features, self.out_features, self.seeds = int(in_features), int(out_features), int(seeds)
        self.spikes, self.backend = bool(spikes), backend
        self.weight = nn.Parameter(torch.empty(self.seeds, self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.empty(self.seeds, self.out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        for k in range(self.seeds):  # nn.Linear's init: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in))
            nn.init.kaiming_uniform_(self.weight[k], a=math.sqrt(5))
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.spikes or (self.seeds > 1 and not self.per_seed_spikes()):
            return seed_linear(x, self.weight, self.bias)
        from .linear import spike_input_linear

        if self.seeds == 1:
            return spike_input_linear(x.squeeze(-2), one_seed(self.weight), one_seed(self.bias),
                                      self.backend).unsqueeze(-2)
        # One spike_linear per seed: unbind (whose backward is one stack) rather than
        # indexing, whose backward would write a whole zero weight gradient per seed.
        biases = self.bias.unbind(0) if self.bias is not None else [None] * self.seeds
        return torch.stack([spike_input_linear(xk, wk, bk, self.backend)
                            for xk, wk, bk in zip(x.unbind(-2), self.weight.unbind(0), biases)], dim=-2)

    def per_seed_spikes(self) -> bool:
        """Several seeds: one spike_linear per seed beats the batched dense product only on
        layers at least SEED_SPIKES_MIN_IN wide in and SEED_SPIKES_MIN_OUT out (measured on the
        models' layers, fwd + bwd: docs/benchmarks.md, "spike_linear with several seeds")."""
        return self.in_features >= SEED_SPIKES_MIN_IN and self.out_features >= SEED_SPIKES_MIN_OUT

    def extra_repr(self) -> str:
        spikes = ", spikes=True" if self.spikes else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, seeds={self.seeds}{spikes}"


class SeedConv2d(nn.Module):
    """nn.Conv2d for K seeds: weight [K, out, in, kh, kw], bias [K, out]; input
    [B, K, in, H, W] -> [B, K, out, H', W'], run as one convolution with K groups (the seed
    dimension folds into the channels without a copy). Each seed is initialised as
    nn.Conv2d initialises its one layer."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, *, seeds: int):
        super().__init__()
        self.seeds, self.stride = int(seeds), int(stride)
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, stride) for _ in range(self.seeds)]
        self.weight = nn.Parameter(torch.stack([c.weight.detach() for c in convs]))
        self.bias = nn.Parameter(torch.stack([c.bias.detach() for c in convs]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, O, I = self.weight.shape[:3]
        if x.dim() != 5 or x.shape[1:3] != (K, I):
            raise ValueError(f"SeedConv2d expects [B, {K}, {I}, H, W], got {tuple(x.shape)}")
        if K == 1:  # the single layer's own call: the same bits
            y = F.conv2d(one_seed(x, 1), one_seed(self.weight), one_seed(self.bias), self.stride)
        else:
            y = F.conv2d(x.flatten(1, 2), self.weight.flatten(0, 1), self.bias.flatten(), self.stride, groups=K)
        return y.view(x.shape[0], K, O, *y.shape[-2:])

    def extra_repr(self) -> str:
        K, O, I, kh, _ = self.weight.shape
        return f"{I}, {O}, kernel_size={kh}, stride={self.stride}, seeds={K}"


def check_seeds(seeds) -> int | None:
    if seeds is None:
        return None
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int (or None for one model), got {seeds!r}")
    return seeds


def seed_shape(seeds: int | None) -> tuple:
    """The leading shape a parameter gets: () for one model, (K,) for K seeds."""
    return () if seeds is None else (seeds,)


def stack_states(states: list[dict]) -> dict:
    """One stacked state dict from K single modules' state dicts (same keys and shapes)."""
    if not states:
        raise ValueError("stack_states needs at least one state dict")
    keys = list(states[0])
    for i, st in enumerate(states[1:], 1):
        if list(st) != keys:
            raise ValueError(f"state dict {i} has other keys than state dict 0")
    return {k: torch.stack([st[k] for st in states]) for k in keys}


def unstack_state(state: dict, k: int) -> dict:
    """Seed k's state dict in the single module's format (copies: saving a view would save
    every seed's storage)."""
    return {name: t[k].clone() for name, t in state.items()}
