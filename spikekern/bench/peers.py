"""Peer implementations timed beside spikekern: SpikingJelly 2.0 (its multi-step nodes, which
choose their own implementation per device), snnTorch `Leaky`, and torch.compile of the
reference loop. Each is set up with spikekern's semantics, and its spikes are compared with
the reference loop's on the benchmark input before it is timed: a peer whose spikes differ
is reported as differing, not timed.
"""
from __future__ import annotations

from typing import Callable

import torch

from .cases import Case, neuron_fn

# Fraction of spikes allowed to differ from the reference: float32 potentials computed in
# another order can land on the other side of the threshold on rare neuron-steps.
SPIKE_TOLERANCE = 1e-3


class PeerUnavailable(Exception):
    pass


def _sj_node(case: Case, inputs: dict):
    """SpikingJelly 2.0's multi-step node; it picks its own implementation for the device
    (PyTorch ops on CPU, its fused kernels on GPU)."""
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate
    except ImportError as exc:
        raise PeerUnavailable(f"spikingjelly not installed ({exc})") from None
    if case.neuron == "lif":
        node = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                              surrogate_function=surrogate.Sigmoid(alpha=4.0), step_mode="m")
    elif case.neuron == "cuba_lif":
        node = neuron.CUBALIFNode(surrogate_function=surrogate.Rect(alpha=1.0))
    elif case.neuron == "plif":  # its defaults are spikekern's: init_tau 2, Sigmoid(4), hard reset to 0
        node = neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0))
    elif case.neuron == "clif":  # its defaults are spikekern's: tau 2, threshold 1, Rect(1)
        node = neuron.ComplementaryLIFNode(surrogate_function=surrogate.Rect(alpha=1.0))
    else:
        node = neuron.ILCCUBALIFNode(case.A, case.P, surrogate_function=surrogate.Rect(alpha=1.0))
        with torch.no_grad():
            node.conn.weight.copy_(inputs["weight"].reshape(case.A * case.P, 1, case.P))
            node.conn.bias.copy_(inputs["bias"].reshape(-1))
    functional.set_step_mode(node, "m")
    node.to(inputs["x"].device)
    # SpikingJelly's ILC node adds the lateral input into its input tensor in place; in a
    # network that tensor is an intermediate, so the wrapper hands it a copy.
    copy_input = case.neuron == "ilc_cuba_lif"

    def run(x):
        functional.reset_net(node)
        return node(x.clone() if copy_input else x)
    return run


def _snntorch_leaky(case: Case, inputs: dict):
    if case.neuron != "lif":
        raise PeerUnavailable("snnTorch has no CUBA-LIF / ILC / PLIF neuron")
    try:
        import snntorch
    except ImportError as exc:
        raise PeerUnavailable(f"snntorch not installed ({exc})") from None
    # The closest Leaky: beta = 1 - 1/tau, threshold 1, reset to zero, fast-sigmoid gradient.
    leaky = snntorch.Leaky(beta=0.5, threshold=1.0, reset_mechanism="zero")

    def run(x):
        mem = leaky.init_leaky()
        spikes = []
        for t in range(x.shape[0]):
            spk, mem = leaky(x[t], mem)
            spikes.append(spk)
        return torch.stack(spikes)
    return run


def _compiled_reference(case: Case, inputs: dict):
    f = neuron_fn(case)
    compiled = torch.compile(lambda i: f(i, "reference"), dynamic=False)
    return lambda x: compiled(dict(inputs, x=x))


PEERS: dict[str, Callable] = {
    "spikingjelly": _sj_node,
    "snntorch": _snntorch_leaky,
    "torch.compile(ref)": _compiled_reference,
}


def check_semantics(peer: Callable, case: Case, inputs: dict) -> float:
    """Fraction of spikes differing from the reference loop's on this input."""
    with torch.no_grad():
        got = peer(inputs["x"]).float()
        ref = reference_spikes(case, inputs).float()
    return (got != ref).float().mean().item() if got.shape == ref.shape else 1.0


def reference_spikes(case: Case, inputs: dict) -> torch.Tensor:
    return neuron_fn(case)(inputs, "reference")


def peer_runner(peer: Callable, mode: str, inputs: dict) -> Callable[[], None]:
    """One forward (no grad) or forward+backward (gradient of the input) of a peer."""
    x = inputs["x"].detach().requires_grad_(mode != "fwd")
    if mode == "fwd":
        def run():
            with torch.no_grad():
                peer(x)
        return run

    def run():
        torch.autograd.grad(peer(x), [x], inputs["grad"])
    return run


def saved_bytes_per_step(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    """Bytes kept for backward per neuron-step (distinct tensors saved by autograd)."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    xg = x.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(xg)
    seen.pop(xg.untyped_storage().data_ptr(), None)  # the input itself is not extra memory
    return sum(seen.values()) / x.numel()
