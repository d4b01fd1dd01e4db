"""Shared helpers for comparing a backend with the reference loop."""
from __future__ import annotations

import torch

import spikekern

# Tolerances of the backend-comparison suite: float64 tight, float32 relative 1e-5.
TOL = {
    torch.float64: dict(rtol=1e-10, atol=1e-10),
    torch.float32: dict(rtol=1e-5, atol=1e-5),
    torch.float16: dict(rtol=1e-2, atol=1e-2),
    torch.bfloat16: dict(rtol=5e-2, atol=5e-2),
}


def assert_grad_close(got: torch.Tensor, ref: torch.Tensor, name: str) -> None:
    """Gradients: relative tolerance per element, absolute tolerance relative to the
    tensor's largest entry. BPTT sums the same terms in a different order in autograd and
    in a fused kernel; through T steps of recurrence, entries that cancel can lose a few
    float32 digits, so the error is judged against the gradient's scale."""
    tol = dict(TOL[ref.dtype])
    tol["atol"] = tol["atol"] * max(1.0, ref.abs().max().item() if ref.numel() else 0.0)
    torch.testing.assert_close(got, ref, **tol, msg=lambda m: f"grad of {name}: {m}")


# Every random draw of the running test (seed, shape, dtype), printed by conftest.py when the
# test fails, so the failing case can be rebuilt and rerun.
DRAWN: list[str] = []


def fresh_input(device, shape, dtype, seed, scale=1.5, shift=0.4):
    DRAWN.append(f"fresh_input(shape={tuple(shape)}, dtype={dtype}, seed={seed}, scale={scale}, shift={shift})")
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale + shift).to(device=device, dtype=dtype)


def noncontiguous(x: torch.Tensor) -> torch.Tensor:
    """The same values as x in a non-contiguous layout (every other element of a wider tensor)."""
    wide = torch.empty(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype, device=x.device)
    wide[..., ::2] = x
    out = wide[..., ::2]
    assert not out.is_contiguous() or x.shape[-1] == 1
    return out


def run_with_grads(fn, inputs: dict, seed: int, **kwargs):
    """Call fn(**inputs, **kwargs); backprop a random weighting of every output.

    Returns (outputs, grads of each input that requires grad)."""
    DRAWN.append(f"output weights: seed={seed + 1} ({kwargs.get('backend', 'default backend')})")
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(seed + 1)
    loss = sum((o.double() * torch.randn(o.shape, generator=g, dtype=torch.float64).to(o.device)).sum() for o in outs)
    loss.backward()
    return tuple(o.detach() for o in outs), {k: v.grad for k, v in leaves.items()}


def assert_matches_reference(fn, inputs: dict, backend: str, seed: int = 0, **kwargs):
    """Backend vs reference: spikes exactly equal, potentials and gradients within TOL."""
    dtype = next(iter(inputs.values())).dtype
    ref_out, ref_grads = run_with_grads(fn, inputs, seed, backend="reference", **kwargs)
    out, grads = run_with_grads(fn, inputs, seed, backend=backend, **kwargs)
    assert out[0].dtype == dtype and out[0].shape == ref_out[0].shape
    assert torch.equal(out[0], ref_out[0]), f"spikes differ at {(out[0] != ref_out[0]).nonzero()[:5].tolist()}"
    for o, r in zip(out[1:], ref_out[1:]):
        torch.testing.assert_close(o, r, **TOL[dtype])
    for k in ref_grads:
        if ref_grads[k] is None:  # the reference never used this input (e.g. ILC weights at T=1)
            assert grads[k] is None or not grads[k].any(), f"grad of {k} should be zero"
            continue
        assert_grad_close(grads[k], ref_grads[k], k)
    return out, grads


ops = spikekern.ops


def break_after_save(trainer, step: int, tensor, value: float) -> None:
    """Make `tensor` (a slice of one seed's parameters) `value` right after the trainer's
    checkpoint at agent step `step`: that seed then diverges with its last good checkpoint on
    disk."""
    real_save = trainer.save

    def save_then_break():
        real_save()
        if trainer.agent_step() == step:
            with torch.no_grad():
                tensor.fill_(value)

    trainer.save = save_then_break
