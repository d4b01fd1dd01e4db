"""The fused ops are proper torch custom ops: opcheck passes (schema, fake kernel,
autograd registration, AOT dispatch) and a small model runs under torch.compile."""
import pytest
import torch

import spikekern

ops = spikekern.ops


def _lif_args(x, v_init=None, save_h=True, return_v=True):
    return (x, v_init, 0.5, 0.5, 0.0, 1.0, 0.0, False, False, 2, 4.0, save_h, return_v)


def _cuba_args(x, save_h=True, return_v=True):
    return (x, 0.5, 0.75, 0.5, 0.0, False, False, 1, 1.0, save_h, return_v)


def _ilc_args(x, w, b, save_h=True):
    return (x, w, b, 0.5, 0.75, 0.5, 0.0, False, False, 1, 1.0, save_h)


def _plif_args(x, q, save_h=True, return_v=True, decay_input=True):
    return (x, q, 1.0, 0.0, False, decay_input, False, 2, 4.0, save_h, return_v)


def _clif_args(x, save_h=True):
    return (x, 2.0, 1.0, 1, 1.0, save_h)


def _case(requires_grad=True):
    x = torch.randn(5, 3, 8, requires_grad=requires_grad)
    w = (torch.randn(2, 4, 4) * 0.5).requires_grad_(requires_grad)
    b = (torch.randn(2, 4) * 0.1).requires_grad_(requires_grad)
    return x, w, b


@pytest.mark.parametrize("requires_grad", [True, False])
def test_opcheck_forward_ops(requires_grad):
    x, w, b = _case(requires_grad)
    v0 = torch.randn(3, 8, requires_grad=requires_grad)
    torch.library.opcheck(torch.ops.spikekern.lif_forward, _lif_args(x, v0, save_h=requires_grad))
    torch.library.opcheck(torch.ops.spikekern.lif_forward, _lif_args(x, None, save_h=requires_grad, return_v=False))
    torch.library.opcheck(torch.ops.spikekern.cuba_lif_forward, _cuba_args(x, save_h=requires_grad))
    torch.library.opcheck(torch.ops.spikekern.ilc_cuba_lif_forward, _ilc_args(x, w, b, save_h=requires_grad))
    q = torch.tensor(0.4, requires_grad=requires_grad)
    for decay_input in (True, False):
        torch.library.opcheck(torch.ops.spikekern.plif_forward,
                              _plif_args(x, q, save_h=requires_grad, decay_input=decay_input))
    torch.library.opcheck(torch.ops.spikekern.clif_forward, _clif_args(x, save_h=requires_grad))


def test_opcheck_backward_ops():
    x, w, b = _case(False)
    gs = torch.randn_like(x)
    _, h, _ = torch.ops.spikekern.lif_forward(*_lif_args(x))
    torch.library.opcheck(torch.ops.spikekern.lif_backward,
                          (gs, torch.randn_like(x), h, 0.5, 0.5, 1.0, 0.0, False, False, 2, 4.0, True))
    _, h, _ = torch.ops.spikekern.cuba_lif_forward(*_cuba_args(x))
    torch.library.opcheck(torch.ops.spikekern.cuba_lif_backward,
                          (gs, None, h, 0.5, 0.75, 0.5, 0.0, False, False, 1, 1.0))
    _, h = torch.ops.spikekern.ilc_cuba_lif_forward(*_ilc_args(x, w, b))
    torch.library.opcheck(torch.ops.spikekern.ilc_cuba_lif_backward,
                          (gs, h, w, 0.5, 0.75, 0.5, 0.0, False, False, 1, 1.0))
    q = torch.tensor(0.4)
    _, h, _ = torch.ops.spikekern.plif_forward(*_plif_args(x, q))
    torch.library.opcheck(torch.ops.spikekern.plif_backward,
                          (gs, torch.randn_like(x), h, q, 1.0, 0.0, False, True, False, 2, 4.0))
    _, h, m = torch.ops.spikekern.clif_forward(*_clif_args(x))
    torch.library.opcheck(torch.ops.spikekern.clif_backward, (gs, h, m, 2.0, 1.0, 1, 1.0))


class TinySNN(torch.nn.Module):
    """Linear -> LIF -> Linear -> CUBA-LIF -> CLIF -> Linear -> PLIF -> ILC-CUBA-LIF, over [T, B, F]."""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend
        self.fc1, self.fc2, self.fc3 = torch.nn.Linear(6, 16), torch.nn.Linear(16, 16), torch.nn.Linear(16, 8)
        self.w = torch.nn.Parameter(torch.randn(2, 4, 4) * 0.3)
        self.b = torch.nn.Parameter(torch.zeros(2, 4))
        self.plif_w = torch.nn.Parameter(torch.tensor(-0.5))

    def forward(self, x):
        s = ops.lif(self.fc1(x), v_threshold=0.5, backend=self.backend)
        s = ops.cuba_lif(self.fc2(s), backend=self.backend)
        s = ops.clif(self.fc2(s) + s, v_threshold=0.5, backend=self.backend)
        s = ops.plif(self.fc3(s), self.plif_w, v_threshold=0.5, backend=self.backend)
        s = ops.ilc_cuba_lif(s, self.w, self.b, backend=self.backend)
        return s.mean(0)


def test_compile_fullgraph_matches_eager():
    torch.manual_seed(0)
    model = TinySNN("cpp")
    x = torch.randn(5, 4, 6) * 2
    eager = model(x)
    eager.square().sum().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    out.square().sum().backward()
    assert torch.equal(out, eager)
    for g, p in zip(eager_grads, model.parameters()):
        torch.testing.assert_close(p.grad, g)


# ----------------------------------------------------------------------------- Triton ops

from conftest import _INTERPRET, _NO_GPU  # noqa: E402

TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
needs_triton = pytest.mark.skipif(not (_INTERPRET or torch.cuda.is_available()),
                                  reason="Triton needs a GPU or TRITON_INTERPRET=1")


@needs_triton
@pytest.mark.parametrize("requires_grad", [True, False])
def test_opcheck_triton_ops(requires_grad):
    from spikekern.backends.triton_backend import ops as tops

    x, w, b = (t.detach().to(TRITON_DEVICE).requires_grad_(requires_grad) for t in _case())
    # Under the interpreter only the eager checks run (AOT compile needs a GPU).
    utils = ("test_schema", "test_autograd_registration", "test_faketensor")
    if torch.cuda.is_available():
        utils = utils + ("test_aot_dispatch_dynamic",)
    torch.library.opcheck(tops._lif_forward, _lif_args(x, save_h=requires_grad) + (False,), test_utils=utils)
    torch.library.opcheck(tops._cuba_forward, _cuba_args(x, save_h=requires_grad) + (True,), test_utils=utils)
    torch.library.opcheck(tops._ilc_forward, _ilc_args(x, w, b, save_h=requires_grad), test_utils=utils)
    q = torch.tensor(0.4, device=TRITON_DEVICE, requires_grad=requires_grad)
    torch.library.opcheck(tops._plif_forward, _plif_args(x, q, save_h=requires_grad), test_utils=utils)
    torch.library.opcheck(tops._clif_forward, _clif_args(x, save_h=requires_grad), test_utils=utils)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=_NO_GPU + " (torch.compile cannot trace Triton's interpreter)")
def test_compile_through_triton_matches_eager():
    torch.manual_seed(0)
    model = TinySNN("triton").cuda()
    x = torch.randn(5, 4, 6, device="cuda") * 2
    eager = model(x)
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), eager)


@needs_triton
def test_triton_recompute_h_matches_saved_h():
    from spikekern.backends import triton_backend

    x = (torch.randn(7, 3, 50, dtype=torch.float64, device=TRITON_DEVICE) + 0.4).requires_grad_(True)
    v0 = torch.randn(3, 50, dtype=torch.float64, device=TRITON_DEVICE, requires_grad=True)
    g = torch.randn_like(x)
    results = []
    for recompute in (False, True):
        triton_backend.set_recompute_h(recompute)
        try:
            s1, v1 = ops.lif(x, v_init=v0, return_v=True, backend="triton")
            s2 = ops.cuba_lif(x, backend="triton")
            grads = torch.autograd.grad((s1 * g).sum() + (v1 * v1).sum() + (s2 * g).sum(), [x, v0])
        finally:
            triton_backend.set_recompute_h(False)
        results.append((s1, s2, *grads))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
