"""spike_linear with several seeds: one spike_linear per seed (SeedLinear's per-seed path)
against the batched dense product (seed_linear), forward + backward with the input gradient
(the surrogate needs it), on the models' spike-input layers at their measured densities,
K = 3 and 8, 1 thread, interleaved in one process (median of 41). SeedLinear's rule
(SEED_SPIKES_MIN_IN, SEED_SPIKES_MIN_OUT in spikekern/nn/seeds.py) comes from it.

    python benchmarks/seed_spike_linear.py benchmarks/results/cpu/spike_linear/seeds.json
"""
from __future__ import annotations

import json
import sys
import time

import torch

from spikekern.nn.seeds import SeedLinear

# (layer, rows = T * batch, in, out, spike density measured in training)
LAYERS = [("ILC-SAN Pendulum h1", 500, 30, 256, 0.067), ("ILC-SAN h2", 500, 256, 256, 0.115),
          ("ILC-SAN HalfCheetah h1", 500, 170, 256, 0.067), ("PL-SDQN MinAtar hidden", 128, 1024, 128, 0.10)]
PATHS = ("per-seed spike_linear", "batched dense (bmm)")


def measure(rows: int, inp: int, out: int, density: float, K: int, reps: int = 41) -> dict[str, float]:
    per_seed = SeedLinear(inp, out, K, spikes=True)
    per_seed.per_seed_spikes = lambda: True  # the per-seed path whatever the layer's width
    dense = SeedLinear(inp, out, K, spikes=False)
    dense.load_state_dict(per_seed.state_dict())
    x = (torch.rand(rows, K, inp) < density).float().requires_grad_(True)
    grad = torch.randn(rows, K, out)

    def step(layer):
        layer(x).backward(grad)

    for layer in (per_seed, dense):
        for _ in range(3):
            step(layer)
    times = {p: [] for p in PATHS}
    for _ in range(reps):
        for path, layer in zip(PATHS, (per_seed, dense)):
            t0 = time.perf_counter()
            step(layer)
            times[path].append(time.perf_counter() - t0)
    return {p: sorted(t)[len(t) // 2] * 1e3 for p, t in times.items()}


def main(out_path: str | None) -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results = []
    for name, rows, inp, out, density in LAYERS:
        for K in (3, 8):
            ms = measure(rows, inp, out, density, K)
            r = dict(layer=name, rows=rows, inp=inp, out=out, density=density, K=K,
                     **{f"{p} ms": round(v, 3) for p, v in ms.items()}, ratio=round(ms[PATHS[1]] / ms[PATHS[0]], 2))
            results.append(r)
            print(json.dumps(r), flush=True)
    if out_path:
        with open(out_path, "w") as f:
            json.dump(dict(command="python benchmarks/seed_spike_linear.py " + out_path, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
