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
from . import models
from .cases import MODES, Case, copy_runner, make_inputs, runner
from .timing import interleaved

FULL_CASES = [
    Case("lif", 16, 1 << 16), Case("lif", 16, 1 << 20), Case("lif", 4, 1 << 20),
    Case("cuba_lif", 16, 1 << 16), Case("cuba_lif", 16, 1 << 20),
    Case("ilc_cuba_lif", 5, 100, 6, 10), Case("ilc_cuba_lif", 16, 4096, 6, 10),
]
QUICK_CASES = [Case("lif", 16, 1 << 20), Case("cuba_lif", 16, 1 << 20), Case("ilc_cuba_lif", 5, 100, 6, 10)]


def run_suite(cases, backends, device="cpu", dtype=torch.float32, rounds=15, log=print) -> list[dict]:
    rows = []
    for case in cases:
        inputs = make_inputs(case, dtype, device)
        copy_fn, copy_bytes = copy_runner(case, dtype, device)
        for mode in MODES:
            fns = {b: runner(case, mode, inputs, b) for b in backends}
            fns["copy"] = copy_fn
            # The reference loop is slow at large sizes: bound its share of the rounds.
            times = interleaved(fns, rounds, device=device, max_seconds=3.0, min_seconds=0.25)
            copy_gbs = copy_bytes / times["copy"] / 1e9
            nbytes = case.min_bytes(mode, dtype)
            for b in backends:
                gbs = nbytes / times[b] / 1e9
                row = dict(neuron=case.neuron, size=case.label, T=case.T, neurons=case.neurons,
                           mode=mode, backend=b, dtype=str(dtype).replace("torch.", ""),
                           ms=times[b] * 1e3, gbs=gbs, copy_gbs=copy_gbs, pct_copy=100 * gbs / copy_gbs,
                           speedup_vs_reference=times["reference"] / times[b] if "reference" in times else None)
                rows.append(row)
                log(format_row(row))
    return rows


HEADER = f"{'neuron':<13} {'size':<22} {'mode':<8} {'backend':<10} {'ms':>9} {'GB/s':>7} {'%copy':>6} {'x ref':>7}"


def format_row(r: dict) -> str:
    speed = f"{r['speedup_vs_reference']:.1f}" if r["speedup_vs_reference"] is not None else "-"
    return (f"{r['neuron']:<13} {r['size']:<22} {r['mode']:<8} {r['backend']:<10} "
            f"{r['ms']:>9.3f} {r['gbs']:>7.1f} {r['pct_copy']:>5.0f}% {speed:>7}")


def machine_info(device: str) -> dict:
    info = dict(spikekern=__version__, torch=torch.__version__, python=platform.python_version(),
                cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                malloc_tuned=_malloc.is_tuned())
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def main(quick: bool = False, report: str | None = None, device: str = "cpu",
         backends: list[str] | None = None, malloc_tuning: bool = True) -> list[dict]:
    if malloc_tuning:
        _malloc.keep_freed_memory()
    backends = backends or available_backends(device)
    cases = QUICK_CASES if quick else FULL_CASES
    info = machine_info(device)
    print(f"spikekern bench on {device} ({info['threads']} threads, torch {info['torch']}, "
          f"malloc tuned: {info['malloc_tuned']}); backends: {', '.join(backends)}")
    print("time: median over interleaved rounds; GB/s counts minimal bytes; %copy: of a plain "
          "tensor copy timed in the same rounds; x ref: speed-up over the reference loop")
    print(HEADER)
    rows = run_suite(cases, backends, device=device, rounds=7 if quick else 15)
    model_rows = []
    if device == "cpu":
        print("\nModels (neurons: the model's neuron layers alone, on the inputs they get in the model)")
        print(models.HEADER)
        model_rows = models.run_models(backends)
    if report:
        out = Path(report)
        out.mkdir(parents=True, exist_ok=True)
        payload = dict(machine=info, results=rows, models=model_rows)
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, out / "results.json")
        (out / "report.md").write_text(to_markdown(rows, model_rows, info))
        print(f"wrote {out / 'results.json'} and {out / 'report.md'}")
    return rows


def to_markdown(rows: list[dict], model_rows: list[dict], info: dict) -> str:
    lines = ["# spikekern benchmark", "",
             "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), "",
             "| neuron | size | mode | backend | ms | GB/s | % copy | x reference |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        speed = f"{r['speedup_vs_reference']:.1f}" if r["speedup_vs_reference"] is not None else "-"
        lines.append(f"| {r['neuron']} | {r['size']} | {r['mode']} | {r['backend']} | {r['ms']:.3f} | "
                     f"{r['gbs']:.1f} | {r['pct_copy']:.0f}% | {speed} |")
    if model_rows:
        lines += ["", "| model case | backend | ms | neurons ms | neuron share | x reference |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in model_rows:
            speed = f"{r['speedup_vs_reference']:.1f}" if r["speedup_vs_reference"] is not None else "-"
            lines.append(f"| {r['case']} | {r['backend']} | {r['ms']:.2f} | {r['neuron_ms']:.2f} | "
                         f"{100 * r['neuron_share']:.0f}% | {speed} |")
    return "\n".join(lines) + "\n"
