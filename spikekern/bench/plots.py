"""The report's sweeps and figures: LIF forward+backward time against N and against T (one
line per backend and peer), percent of copy bandwidth at the headline sizes, and bytes
saved for backward per neuron-step."""
from __future__ import annotations

from pathlib import Path

import torch

from . import peers
from .cases import Case, make_inputs, neuron_fn, runner
from .timing import interleaved

SWEEP_N = [1 << k for k in (12, 14, 16, 18, 20)]
SWEEP_T = [1, 4, 16, 64]


def sweep(backends: list[str], peer_names: list[str], device="cpu", log=print) -> list[dict]:
    """fwd+bwd time of LIF over N (T=16) and over T (N=2^16)."""
    rows = []
    cases = [("N", Case("lif", 16, n)) for n in SWEEP_N] + [("T", Case("lif", t, 1 << 16)) for t in SWEEP_T]
    for axis, case in cases:
        inputs = make_inputs(case, torch.float32, device)
        fns = {b: runner(case, "fwd+bwd", inputs, b) for b in backends}
        for name in peer_names:
            try:
                peer = peers.PEERS[name](case, inputs)
            except peers.PeerUnavailable:
                continue
            if peers.check_semantics(peer, case, inputs) <= peers.SPIKE_TOLERANCE:
                fns[name] = peers.peer_runner(peer, "fwd+bwd", inputs)
        times = interleaved(fns, 5, device=device, max_seconds=2.0, min_seconds=0.1)
        for name, t in times.items():
            rows.append(dict(axis=axis, T=case.T, N=case.neurons, backend=name, ms=t * 1e3))
        log(f"sweep {axis}: T={case.T} N={case.neurons}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in times.items()))
    return rows


def saved_memory(backends: list[str], peer_names: list[str], device="cpu") -> list[dict]:
    """Bytes saved for backward per neuron-step, and the peak tensor memory of one
    forward+backward per neuron-step, each neuron, float32 input."""
    from .memory import peak_fwd_bwd_bytes

    rows = []
    for case in (Case("lif", 16, 4096), Case("cuba_lif", 16, 4096), Case("ilc_cuba_lif", 5, 64, 6, 10)):
        inputs = make_inputs(case, torch.float32, device)
        f = neuron_fn(case)
        impls = {b: (lambda x, b=b: f(dict(inputs, x=x), b)) for b in backends}
        for name in peer_names:
            if name.startswith("torch.compile"):
                continue
            try:
                impls[name] = peers.PEERS[name](case, inputs)
            except peers.PeerUnavailable:
                continue
        for name, fn in impls.items():
            n = inputs["x"].numel()
            rows.append(dict(neuron=case.neuron, backend=name,
                             saved_bytes_per_neuron_step=peers.saved_bytes_per_step(fn, inputs["x"]),
                             peak_bytes_per_neuron_step=peak_fwd_bwd_bytes(fn, inputs["x"], inputs["grad"]) / n))
    return rows


def figures(out: Path, rows: list[dict], sweep_rows: list[dict], memory_rows: list[dict]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for axis, label in (("N", "neurons N (T = 16)"), ("T", "time steps T (N = 2^16)")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in sorted({r["backend"] for r in sweep_rows}):
            pts = sorted((r[axis], r["ms"]) for r in sweep_rows if r["axis"] == axis and r["backend"] == name)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("LIF forward+backward, ms")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        paths.append(out / f"lif_time_vs_{axis}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)

    timed = [r for r in rows if r.get("status") == "ok" and r["mode"] == "fwd+bwd"]
    if timed:
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = [f"{r['neuron']}\\n{r['size']}\\n{r['backend']}" for r in timed]
        ax.bar(range(len(timed)), [r["pct_copy"] for r in timed])
        ax.set_xticks(range(len(timed)), labels, fontsize=6)
        ax.set_ylabel("% of copy bandwidth (fwd+bwd)")
        fig.tight_layout()
        paths.append(out / "pct_copy_bandwidth.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)

    if memory_rows:
        fig, ax = plt.subplots(figsize=(6, 4))
        names = sorted({r["backend"] for r in memory_rows})
        neurons = sorted({r["neuron"] for r in memory_rows})
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            vals = [next((r["saved_bytes_per_neuron_step"] for r in memory_rows
                          if r["backend"] == name and r["neuron"] == n), 0.0) for n in neurons]
            ax.bar([j + i * width for j in range(len(neurons))], vals, width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(neurons))], neurons)
        ax.set_ylabel("bytes saved for backward per neuron-step")
        ax.legend()
        fig.tight_layout()
        paths.append(out / "saved_memory.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
