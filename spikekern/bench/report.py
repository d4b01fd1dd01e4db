"""`spikekern bench`: every neuron x backend x size, fwd and fwd+bwd, with effective
bandwidth, percent of a plain copy's bandwidth measured in the same rounds, and speed-up
over the reference loop measured in the same rounds."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from .. import __version__, _malloc, available_backends
from . import models, peers
from .cases import MODES, NEURON_FNS, Case, copy_runner, make_inputs, runner
from .timing import interleaved, speedup_text, speedup_vs_reference

# Every neuron of cases.NEURON_FNS at T=16, N=2^20; ILC-CUBA-LIF at the ILC-SAN size.
STANDARD_CASES = [Case(n, 16, 1 << 20) for n in NEURON_FNS if n != "ilc_cuba_lif"]
QUICK_CASES = [*STANDARD_CASES, Case("ilc_cuba_lif", 5, 100, 6, 10)]
FULL_CASES = [Case("lif", 16, 1 << 16), Case("lif", 4, 1 << 20), Case("cuba_lif", 16, 1 << 16), *QUICK_CASES,
              Case("ilc_cuba_lif", 16, 4096, 6, 10)]


def _peers_for(case, inputs, peer_names, log) -> tuple[dict, list[dict]]:
    """Peers set up and checked against the reference; (usable peers, rows for the rest)."""
    usable, skipped = {}, []
    for name in peer_names:
        try:
            peer = peers.PEERS[name](case, inputs)
            diff = peers.check_semantics(peer, case, inputs)
        except peers.PeerUnavailable as exc:
            log(f"{case.neuron:<13} {case.label:<22} peer {name}: unavailable ({exc})")
            continue
        if diff > peers.SPIKE_TOLERANCE:
            log(f"{case.neuron:<13} {case.label:<22} peer {name}: differs ({100 * diff:.2f}% of spikes), not timed")
            skipped.append(dict(neuron=case.neuron, size=case.label, T=case.T, neurons=case.neurons, backend=name,
                                status=f"differs: {100 * diff:.2f}% of spikes"))
        else:
            usable[name] = peer
    return usable, skipped


def run_suite(cases, backends, device="cpu", dtype=torch.float32, rounds=15, log=print,
              peer_names=(), peer_cases=None) -> list[dict]:
    """Every case x mode x backend (and peer, on peer_cases, default all cases)."""
    rows = []
    for case in cases:
        inputs = make_inputs(case, dtype, device)
        copy_fn, copy_bytes = copy_runner(case, dtype, device)
        with_peers = peer_cases is None or case in peer_cases
        usable, skipped = _peers_for(case, inputs, peer_names if with_peers else (), log)
        rows += skipped
        for mode in MODES:
            fns = {b: runner(case, mode, inputs, b) for b in backends}
            fns.update({name: peers.peer_runner(peer, mode, inputs) for name, peer in usable.items()})
            fns["copy"] = copy_fn
            # The reference loop is slow at large sizes: bound its share of the rounds.
            times = interleaved(fns, rounds, device=device, max_seconds=3.0, min_seconds=0.25)
            copy_gbs = copy_bytes / times["copy"] / 1e9
            nbytes = case.min_bytes(mode, dtype)
            for b in [*backends, *usable]:
                gbs = nbytes / times[b] / 1e9
                row = dict(neuron=case.neuron, size=case.label, T=case.T, neurons=case.neurons, status="ok",
                           mode=mode, backend=b, dtype=str(dtype).replace("torch.", ""),
                           ms=times[b] * 1e3, gbs=gbs, copy_gbs=copy_gbs, pct_copy=100 * gbs / copy_gbs,
                           speedup_vs_reference=speedup_vs_reference(times, b))
                rows.append(row)
                log(format_row(row))
    return rows


HEADER = f"{'neuron':<13} {'size':<22} {'mode':<8} {'backend':<10} {'ms':>9} {'GB/s':>7} {'%copy':>6} {'x ref':>7}"


def format_row(r: dict) -> str:
    return (f"{r['neuron']:<13} {r['size']:<22} {r['mode']:<8} {r['backend']:<10} "
            f"{r['ms']:>9.3f} {r['gbs']:>7.1f} {r['pct_copy']:>5.0f}% {speedup_text(r):>7}")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str) -> dict:
    """What a reader needs to compare two reports: versions, CPU and the kernel build it runs,
    threads, and the allocator state (glibc tuned or not, spikekern's output pool)."""
    info = dict(spikekern=__version__, torch=torch.__version__, python=platform.python_version(),
                cpu=cpu_model(), threads=torch.get_num_threads(), malloc_tuned=_malloc.is_tuned())
    if "cpp" in available_backends("cpu"):
        from .. import cpu

        info["cpu_isa"] = cpu.isa()
        info["cpu_pool_limit_mb"] = cpu.pool_stats()["limit_bytes"] >> 20
        info["cpu_stream_min_mb"] = cpu.stream_min_bytes() / 2**20
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def main(quick: bool = False, report: str | None = None, device: str = "cpu",
         backends: list[str] | None = None, malloc_tuning: bool = False) -> list[dict]:
    if malloc_tuning:
        _malloc.keep_freed_memory()
    backends = backends or available_backends(device)
    cases = QUICK_CASES if quick else FULL_CASES
    peer_names = [] if quick else list(peers.PEERS)
    info = machine_info(device)
    print(f"spikekern bench on {device}: {info['cpu']}, CPU kernels {info.get('cpu_isa', '-')}, "
          f"{info['threads']} threads, torch {info['torch']}; allocator: glibc tuned {info['malloc_tuned']}, "
          f"output pool {info.get('cpu_pool_limit_mb', '-')} MB, streaming stores from "
          f"{info.get('cpu_stream_min_mb', '-')} MB; backends: {', '.join(backends)}"
          + (f"; peers: {', '.join(peer_names)}" if peer_names else ""))
    print("time: median over interleaved rounds; GB/s counts minimal bytes; %copy: of a plain "
          "tensor copy timed in the same rounds; x ref: speed-up over the reference loop")
    print(HEADER)
    # Peers (torch.compile compiles each case twice) at the headline sizes only.
    rows = run_suite(cases, backends, device=device, rounds=7 if quick else 15, peer_names=peer_names,
                     peer_cases=QUICK_CASES)
    model_rows = []
    if device == "cpu":
        print("\nModels (neurons: the model's neuron layers alone, on the inputs they get in the model)")
        print(models.HEADER)
        model_rows = models.run_models(backends)
    if report:
        from . import plots

        out = Path(report)
        out.mkdir(parents=True, exist_ok=True)
        sweep_rows, memory_rows = [], []
        if not quick:
            print("\nSweeps (LIF forward+backward)")
            sweep_rows = plots.sweep(backends, [p for p in peer_names if not p.startswith("torch.compile")], device)
            memory_rows = plots.saved_memory(backends, peer_names, device)
        figures = plots.figures(out, rows, sweep_rows, memory_rows)
        payload = dict(machine=info, results=rows, models=model_rows, sweeps=sweep_rows, saved_memory=memory_rows)
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, out / "results.json")
        (out / "report.md").write_text(to_markdown(rows, model_rows, memory_rows, figures, info))
        print(f"wrote {out / 'results.json'}, {out / 'report.md'} and {len(figures)} figures")
    return rows


def to_markdown(rows: list[dict], model_rows: list[dict], memory_rows: list[dict], figures: list,
                info: dict) -> str:
    lines = ["# spikekern benchmark", "",
             "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), "",
             "Times are medians over rounds in which every candidate ran once (interleaved); x reference is "
             "the speed-up over the reference loop in the same rounds; GB/s counts the minimal bytes (forward: "
             "read x, write s and h; backward: read grad_s and h, write grad_x); % copy is of a plain tensor "
             "copy timed in the same rounds. Peers are checked against the reference loop first.", "",
             "| neuron | size | mode | backend | ms | GB/s | % copy | x reference |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['neuron']} | {r['size']} | - | {r['backend']} | {r['status']} | | | |")
            continue
        speed = speedup_text(r)
        lines.append(f"| {r['neuron']} | {r['size']} | {r['mode']} | {r['backend']} | {r['ms']:.3f} | "
                     f"{r['gbs']:.1f} | {r['pct_copy']:.0f}% | {speed} |")
    if model_rows:
        lines += ["", "| model case | backend | ms | neurons ms | neuron share | x reference |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in model_rows:
            speed = speedup_text(r)
            lines.append(f"| {r['case']} | {r['backend']} | {r['ms']:.2f} | {r['neuron_ms']:.2f} | "
                         f"{100 * r['neuron_share']:.0f}% | {speed} |")
    if memory_rows:
        lines += ["", "Memory per neuron-step (float32 input): bytes saved for backward, and the peak bytes of "
                  "tensors alive at once during one forward+backward beyond the inputs (outputs, activations, "
                  "saved tensors, gradients; counted per op, so a fused op's internal scratch is not).", "",
                  "| neuron | implementation | saved for backward, B | peak fwd+bwd, B |",
                  "|---|---|---:|---:|"]
        lines += [f"| {r['neuron']} | {r['backend']} | {r['saved_bytes_per_neuron_step']:.1f} | "
                  f"{r['peak_bytes_per_neuron_step']:.1f} |" for r in memory_rows]
    lines += [""] + [f"![{Path(p).stem}]({Path(p).name})" for p in figures]
    return "\n".join(lines) + "\n"
