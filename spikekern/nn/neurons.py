"""Multi-step neuron modules: input [T, B, ...] -> spikes [T, B, ...].

Each wraps one op of spikekern.ops with its parameters and a backend (None: the process
default, see spikekern.set_backend). State starts fresh at every call, as the seed models
reset their networks before each forward; LIF(stateful=True) instead carries its final
potential into the next call, for streaming, until reset().
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import _backend, ops
from .seeds import check_seeds, seed_shape


# What spikekern.nn exports from here (a new neuron's module joins this list).
__all__ = ["LIF", "CUBALIF", "ILCCUBALIF", "PLIF", "CLIF", "IFEncoderNeuron", "NonSpikingIF"]


def _check_backend(backend: str | None) -> str | None:
    if backend is not None:
        _backend._check_name(backend)
    return backend


def _op_backend(backend: str | None, x: torch.Tensor) -> str:
    """The backend a module hands its op. None: "auto", which the op resolves through the
    process default (spikekern.set_backend). An explicit "auto": the fastest backend for x's
    device, whatever the default, so a model built with backend="auto" (as the trainers build
    theirs) keeps running fused when a user changes the process default."""
    if backend is None:
        return "auto"
    return _backend.fastest(x.device) if backend == "auto" else backend


def _check_multistep(x: torch.Tensor, module: nn.Module) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{type(module).__name__} expects multi-step input [T, B, ...], got {shape}")


class LIF(nn.Module):
    """Leaky integrate-and-fire neuron (every flavour of NEURONS.md §1).

    Defaults are SpikingJelly's LIFNode; `LIF.braincog()` gives BrainCog's LIFNode and
    `LIF.spikingjelly()` names SpikingJelly's defaults explicitly.
    """

    def __init__(self, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False,
                 surrogate="sigmoid", alpha=None, backend=None, stateful=False):
        super().__init__()
        self.tau, self.decay_input = float(tau), bool(decay_input)
        self.v_threshold, self.v_reset = ops.validation.check_threshold(v_threshold, v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate
        self.alpha = ops.surrogate.resolve(surrogate, alpha)[1]  # validates name and alpha now
        ops.validation.lif_coefficients(self.tau, self.decay_input, self.v_reset)
        self.backend = _check_backend(backend)
        self.stateful = bool(stateful)
        self.v: torch.Tensor | None = None  # carried potential (stateful only)

    @classmethod
    def braincog(cls, threshold=0.5, tau=2.0, backend=None, **kwargs):
        """BrainCog's LIFNode: mem += (x - mem)/tau, QGate(alpha=2), hard reset to 0 with the
        reset detached. The Spiking-DQN example passes threshold=1.0."""
        return cls(tau=tau, decay_input=True, v_threshold=threshold, v_reset=0.0, detach_reset=True,
                   surrogate="qgate", alpha=2.0, backend=backend, **kwargs)

    @classmethod
    def spikingjelly(cls, tau=2.0, backend=None, **kwargs):
        """SpikingJelly's LIFNode defaults: decay_input, v_th 1, hard reset to 0, Sigmoid(4)."""
        return cls(tau=tau, backend=backend, **kwargs)

    def reset(self) -> None:
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_multistep(x, self)
        kw = dict(decay_input=self.decay_input, v_threshold=self.v_threshold, v_reset=self.v_reset,
                  detach_reset=self.detach_reset, surrogate=self.surrogate, alpha=self.alpha,
                  backend=_op_backend(self.backend, x))
        if not self.stateful:
            return ops.lif(x, self.tau, **kw)
        v_init = self.v if self.v is not None and self.v.shape == x.shape[1:] else None
        s, v = ops.lif(x, self.tau, v_init=v_init, return_v=True, **kw)
        self.v = v[-1]
        return s

    def extra_repr(self) -> str:
        reset = "soft" if self.v_reset is None else f"v_reset={self.v_reset}"
        return (f"tau={self.tau}, decay_input={self.decay_input}, v_threshold={self.v_threshold}, "
                f"{reset}, detach_reset={self.detach_reset}, surrogate={self.surrogate}(alpha={self.alpha}), "
                f"backend={self.backend or 'default'}" + (", stateful" if self.stateful else ""))


class IFEncoderNeuron(LIF):
    """The population encoder's IF neuron (seed 001): v_th 0.999, soft reset, deterministic
    pass-through surrogate, reset detached."""

    def __init__(self, v_threshold=0.999, backend=None):
        super().__init__(tau=math.inf, decay_input=False, v_threshold=v_threshold, v_reset=None,
                         detach_reset=True, surrogate="pass", backend=backend)


class CUBALIF(nn.Module):
    """Current-based LIF (NEURONS.md §2), SpikingJelly CUBALIFNode defaults."""

    def __init__(self, c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0, detach_reset=False,
                 surrogate="rect", alpha=None, backend=None):
        super().__init__()
        self.c_decay = ops.validation.check_decay(c_decay, "c_decay")
        self.v_decay = ops.validation.check_decay(v_decay, "v_decay")
        self.v_threshold, self.v_reset = ops.validation.check_threshold(v_threshold, v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate
        self.alpha = ops.surrogate.resolve(surrogate, alpha)[1]
        self.backend = _check_backend(backend)

    def _kwargs(self, x: torch.Tensor) -> dict:
        return dict(c_decay=self.c_decay, v_decay=self.v_decay, v_threshold=self.v_threshold,
                    v_reset=self.v_reset, detach_reset=self.detach_reset, surrogate=self.surrogate,
                    alpha=self.alpha, backend=_op_backend(self.backend, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_multistep(x, self)
        return ops.cuba_lif(x, **self._kwargs(x))

    def extra_repr(self) -> str:
        reset = "soft" if self.v_reset is None else f"v_reset={self.v_reset}"
        return (f"c_decay={self.c_decay}, v_decay={self.v_decay}, v_threshold={self.v_threshold}, {reset}, "
                f"detach_reset={self.detach_reset}, surrogate={self.surrogate}(alpha={self.alpha}), "
                f"backend={self.backend or 'default'}")


class ILCCUBALIF(CUBALIF):
    """CUBA-LIF with intra-layer connections (NEURONS.md §3): act_dim groups of pop_dim
    neurons; input [T, B, act_dim * pop_dim]. Owns the group matrices `weight` [A, P, P] and
    biases `bias` [A, P], initialised as the peer's grouped Conv1d(A, A*P, P, groups=A).

    seeds=K (spikekern.nn.seeds): K seeds' matrices, weight [K, A, P, P] and bias [K, A, P];
    input [T, B, K, A*P], run as one op over K*A groups."""

    def __init__(self, act_dim, pop_dim, c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0,
                 detach_reset=False, surrogate="rect", alpha=None, backend=None, seeds=None):
        super().__init__(c_decay, v_decay, v_threshold, v_reset, detach_reset, surrogate, alpha, backend)
        self.act_dim, self.pop_dim, self.seeds = int(act_dim), int(pop_dim), check_seeds(seeds)
        lead = seed_shape(self.seeds)
        self.weight = nn.Parameter(torch.empty(*lead, self.act_dim, self.pop_dim, self.pop_dim))
        self.bias = nn.Parameter(torch.empty(*lead, self.act_dim, self.pop_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Conv1d's default init: kaiming_uniform(a=sqrt(5)) on a fan-in of P (one input
        # channel per group times kernel size P), i.e. U(-1/sqrt(P), 1/sqrt(P)); bias the same.
        bound = 1.0 / math.sqrt(self.pop_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_multistep(x, self)
        if self.seeds is None:
            return ops.ilc_cuba_lif(x, self.weight, self.bias, **self._kwargs(x))
        K, A, P = self.seeds, self.act_dim, self.pop_dim
        if x.dim() < 3 or x.shape[-2:] != (K, A * P):
            raise ValueError(f"ILCCUBALIF(seeds={K}) expects [T, B, {K}, {A * P}], got {tuple(x.shape)}")
        s = ops.ilc_cuba_lif(x.flatten(-2), self.weight.view(K * A, P, P), self.bias.view(K * A, P),
                             **self._kwargs(x))
        return s.view(x.shape)

    def extra_repr(self) -> str:
        seeds = "" if self.seeds is None else f"seeds={self.seeds}, "
        return f"act_dim={self.act_dim}, pop_dim={self.pop_dim}, {seeds}" + super().extra_repr()


class PLIF(nn.Module):
    """Parametric LIF (NEURONS.md §10), SpikingJelly ParametricLIFNode defaults: 1/tau =
    sigmoid(w) with the one parameter `w` initialised to -ln(init_tau - 1).

    seeds=K (spikekern.nn.seeds): one w per seed, `w` [K]; input [T, B, K, features], each
    seed's slice run by its own op call (K calls: a neuron op takes one q)."""

    def __init__(self, init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False,
                 surrogate="sigmoid", alpha=None, backend=None, seeds=None):
        super().__init__()
        init_tau = float(init_tau)
        if not init_tau > 1.0 or math.isinf(init_tau):
            raise ValueError(f"init_tau must be finite and > 1 (1/tau = sigmoid(w) < 1), got {init_tau}")
        self.init_tau, self.decay_input = init_tau, bool(decay_input)
        self.v_threshold, self.v_reset = ops.validation.check_threshold(v_threshold, v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate
        self.alpha = ops.surrogate.resolve(surrogate, alpha)[1]
        self.backend = _check_backend(backend)
        self.seeds = check_seeds(seeds)
        self.w = nn.Parameter(torch.full(seed_shape(self.seeds), -math.log(init_tau - 1.0)))

    def _plif(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return ops.plif(x, w, decay_input=self.decay_input, v_threshold=self.v_threshold, v_reset=self.v_reset,
                        detach_reset=self.detach_reset, surrogate=self.surrogate, alpha=self.alpha,
                        backend=_op_backend(self.backend, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_multistep(x, self)
        if self.seeds is None:
            return self._plif(x, self.w)
        K = self.seeds
        if x.dim() < 3 or x.shape[-2] != K:
            raise ValueError(f"PLIF(seeds={K}) expects [T, B, {K}, features], got {tuple(x.shape)}")
        # unbind, not select: select's backward writes a zero tensor of x's whole size per seed
        return torch.stack([self._plif(xk, wk) for xk, wk in zip(x.unbind(-2), self.w.unbind(0))], dim=-2)

    def extra_repr(self) -> str:
        reset = "soft" if self.v_reset is None else f"v_reset={self.v_reset}"
        seeds = "" if self.seeds is None else f"seeds={self.seeds}, "
        return (f"{seeds}init_tau={self.init_tau}, decay_input={self.decay_input}, v_threshold={self.v_threshold}, "
                f"{reset}, detach_reset={self.detach_reset}, surrogate={self.surrogate}(alpha={self.alpha}), "
                f"backend={self.backend or 'default'}")


class CLIF(nn.Module):
    """Complementary LIF (NEURONS.md §9), SpikingJelly ComplementaryLIFNode defaults: a second
    state per neuron (the complementary potential m) enters the soft reset. No parameters, so
    K seeds' inputs [T, B, K, features] run as one op like any other shape."""

    def __init__(self, tau=2.0, v_threshold=1.0, surrogate="rect", alpha=None, backend=None):
        super().__init__()
        self.tau = ops.validation.check_clif_tau(tau)
        self.v_threshold, _ = ops.validation.check_threshold(v_threshold, None)
        self.surrogate = surrogate
        self.alpha = ops.surrogate.resolve(surrogate, alpha)[1]
        self.backend = _check_backend(backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_multistep(x, self)
        return ops.clif(x, self.tau, v_threshold=self.v_threshold, surrogate=self.surrogate, alpha=self.alpha,
                        backend=_op_backend(self.backend, x))

    def extra_repr(self) -> str:
        return (f"tau={self.tau}, v_threshold={self.v_threshold}, surrogate={self.surrogate}(alpha={self.alpha}), "
                f"backend={self.backend or 'default'}")


class NonSpikingIF(nn.Module):
    """Non-spiking IF decoder (NEURONS.md §4): [T, *] -> [*]."""

    def __init__(self, decode="last-mem"):
        super().__init__()
        mode = decode.replace("_", "-") if isinstance(decode, str) else decode
        if mode not in ops.DECODES:
            raise ValueError(f"unknown decode {decode!r}; choose one of {list(ops.DECODES)}")
        self.decode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.nonspiking_if(x, self.decode)

    def extra_repr(self) -> str:
        return f"decode={self.decode}"
