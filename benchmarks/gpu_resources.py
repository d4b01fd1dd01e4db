"""The GPU resource report, without a GPU: registers per thread, spills, shared memory and
the occupancy that follows, for every CUDA kernel (ptxas -v on csrc/cuda/*.cu) and every
Triton kernel (the cubins that spikekern.backends.triton_backend.ahead compiles), for
sm_80 (A100) and sm_90 (H100/H200).

    python benchmarks/gpu_resources.py --out DIR [--arch 80 90] [--check]

Writes DIR/resources.json (one row per compiled kernel instantiation) and DIR/resources.md
(a summary per op, dtype and architecture, and what the occupancy means for bandwidth).
--check exits 1 if any fused neuron kernel spills registers to local memory (CI runs it).
Needs nvcc (and ptxas) on PATH, and Triton for the Triton half (skipped, and said, without).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CU_DIR = ROOT / "csrc" / "cuda"

# Per-SM limits of the occupancy calculation (CUDA C Programming Guide, "Compute Capabilities",
# the same for sm_80 and sm_90 except shared memory).
SM_LIMITS = {
    80: dict(regs=65536, warps=64, blocks=32, smem=167936, name="sm_80 (A100)"),
    90: dict(regs=65536, warps=64, blocks=32, smem=233472, name="sm_90 (H100/H200)"),
}
REG_ALLOC_UNIT = 256      # registers are allocated per warp in units of 256
SMEM_RESERVED = 1024      # shared memory the system reserves per block (sm_80 and later)

# The ILC size the report evaluates the ILC kernels at (ILC-SAN: A = 6 groups of P = 10), and
# the launch configuration csrc/cuda/ilc_kernels.cu derives from P (tile_samples, the smem sizes).
ILC_P = 10


def threads_per_block_cuda() -> int:
    m = re.search(r"constexpr int kThreads = (\d+);", (CU_DIR / "cuda_common.cuh").read_text())
    if not m:
        raise SystemExit("gpu_resources: kThreads not found in csrc/cuda/cuda_common.cuh")
    return int(m.group(1))


def occupancy(arch: int, regs: int, threads: int, smem: int) -> dict:
    lim = SM_LIMITS[arch]
    warps = math.ceil(threads / 32)
    regs_per_warp = math.ceil(max(regs, 1) * 32 / REG_ALLOC_UNIT) * REG_ALLOC_UNIT
    by_regs = lim["regs"] // (regs_per_warp * warps)
    by_warps = lim["warps"] // warps
    by_smem = lim["smem"] // (smem + SMEM_RESERVED)
    blocks = min(lim["blocks"], by_regs, by_warps, by_smem)
    limiter = "full" if blocks * warps == lim["warps"] else min(
        (by_regs, "registers"), (by_warps, "threads"), (by_smem, "shared memory"), (lim["blocks"], "blocks"))[1]
    return dict(blocks_per_sm=blocks, warps_per_sm=blocks * warps, occupancy=blocks * warps / lim["warps"],
                limiter=limiter)


# ----------------------------------------------------------------------------------- CUDA
_PTXAS_ENTRY = re.compile(r"Compiling entry function '(\S+)' for 'sm_(\d+)'")
_PTXAS_PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_USED = re.compile(r"Used (\d+) registers(?:, used \d+ barriers)?(?:, (\d+) bytes smem)?")


def demangle(names: list[str]) -> list[str]:
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


# The shared loops' neuron types (neuron_math.h), by their ops' names; a type not named here
# is reported by its own name (so a new neuron needs no entry to be reported correctly).
NEURON_TYPES = {"LifNeuron": "lif", "CubaNeuron": "cuba_lif", "PlifNeuron": "plif", "ClifNeuron": "clif"}


def neuron_op(type_arg: str) -> str:
    """The op name of a neuron type template argument ('spikekern::cuda::PlifNeuron<true>')."""
    name = re.search(r"(\w+Neuron)\b", type_arg).group(1)
    return NEURON_TYPES.get(name, name)

# The kernels that add partial gradients (ILC's weights, PLIF's parameter), by their ops' names.
SUM_KERNELS = {"sum_parts_kernel": "ilc_sum_parts", "sum_blocks_kernel": "plif_sum_blocks"}


def cuda_kernel_info(pretty: str, threads: int) -> dict:
    """op, dtype, vector width and launch shape of one instantiation, from its demangled name."""
    name = re.search(r"::(\w+)<", pretty).group(1)
    args = [a.strip() for a in pretty[pretty.index("<") + 1:pretty.index(">(")].split(",")]
    dtype_of = {"float": "float32", "double": "float64", "__half": "float16", "__nv_bfloat16": "bfloat16"}
    if name in ("forward_steps_kernel", "backward_steps_kernel", "backward_param_steps_kernel",
                "backward_state_steps_kernel"):  # <Neuron, T, A, V, ...>
        neuron = neuron_op(args[0])
        op = f"{neuron}_{'forward' if name.startswith('forward') else 'backward'}"
        # a learned parameter's block sum: kThreads doubles of dynamic shared memory
        smem = 8 * threads if name == "backward_param_steps_kernel" else 0
        return dict(op=op, dtype=dtype_of[args[1]], vector=int(args[3]), threads=threads, smem_dynamic=smem)
    acc = 8 if args[0] == "double" else 4
    if name in SUM_KERNELS:  # one thread or one element per thread: not a neuron kernel
        return dict(op=SUM_KERNELS[name], dtype="float64" if args[0] == "double" else "float32", vector=1,
                    threads=threads, smem_dynamic=0)
    bm = threads // ILC_P
    forward = name == "ilc_fwd_kernel"
    smem = acc * (ILC_P * ILC_P + ILC_P + bm * ILC_P) if forward else acc * (2 * ILC_P * ILC_P + ILC_P + 2 * bm * ILC_P)
    return dict(op="ilc_cuba_lif_" + ("forward" if forward else "backward"), dtype=dtype_of[args[0]], vector=1,
                threads=bm * ILC_P, smem_dynamic=smem)


def cuda_rows(src: Path, arch: int, threads: int, host: bool) -> list[dict]:
    """ptxas -v on one csrc/cuda/*.cu for `arch`. With `host`, an object file (device and
    host code) instead of a cubin: the launchers' host code compiled against the real CUDA
    headers, which CI does here rather than in a second nvcc build (CMake's)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = ["-c", "-o", os.path.join(tmp, "k.o")] if host else ["-cubin", "-o", os.path.join(tmp, "k.cubin")]
        r = subprocess.run(["nvcc", "-std=c++17", f"-arch=sm_{arch}", "-fmad=false", "-Xptxas", "-v",
                            "-I", str(ROOT / "csrc"), str(src), *out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"gpu_resources: nvcc failed on {src.name}:\n{r.stderr[-3000:]}")
    current = None
    found = []
    for line in r.stderr.splitlines():
        if m := _PTXAS_ENTRY.search(line):
            current = dict(source=f"csrc/cuda/{src.name}", arch=arch, mangled=m.group(1))
            found.append(current)
        elif current and (m := _PTXAS_PROPS.search(line)):
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        elif current and (m := _PTXAS_USED.search(line)):
            current.update(registers=int(m.group(1)), smem_static=int(m.group(2) or 0))
    for row, pretty in zip(found, demangle([f.pop("mangled") for f in found])):
        row["kernel"] = pretty[:pretty.index(">(") + 1]  # without the parameter list
        row.update(cuda_kernel_info(pretty, threads))
        row["spill_bytes"] = row["spill_stores"] + row["spill_loads"]
        row.update(occupancy(arch, row["registers"], row["threads"], row["smem_static"] + row["smem_dynamic"]))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------- Triton
_CUOBJ_FUNC = re.compile(r"Function (\S+):\s*\n\s*REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)")


def triton_rows(arch: int) -> tuple[list[dict], str | None]:
    if importlib.util.find_spec("triton") is None:
        return [], "triton is not installed"
    import triton  # noqa: F401 (the bundled cuobjdump)
    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "spikekern.backends.triton_backend.ahead", str(arch),
                            "--cubin-dir", tmp], env=env, capture_output=True, text=True)
        cases = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        if r.returncode != 0 or any("error" in c for c in cases):
            raise SystemExit(f"gpu_resources: Triton compile failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        for c in cases:
            dump = subprocess.run([str(cuobjdump), "--dump-resource-usage", c["cubin"]], capture_output=True,
                                  text=True, check=True).stdout
            m = _CUOBJ_FUNC.search(dump)
            if not m:
                raise SystemExit(f"gpu_resources: no resource usage in {c['cubin']}:\n{dump}")
            threads = 32 * c["num_warps"]
            row = dict(source="spikekern/backends/triton_backend", arch=arch, kernel=c["kernel"],
                       op=c["kernel"].removesuffix("_kernel"), dtype=c["dtype"], constexprs=c["constexprs"],
                       registers=int(m.group(2)), stack=int(m.group(3)), smem_static=int(m.group(4)),
                       spill_bytes=int(m.group(5)), threads=threads, smem_dynamic=c["shared"])
            row.update(occupancy(arch, row["registers"], threads, max(row["smem_static"], c["shared"])))
            rows.append(row)
    return rows, None


# --------------------------------------------------------------------------------- report
def summarize(rows: list[dict]) -> list[str]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        backend = "triton" if "triton" in r["source"] else "cuda"
        groups.setdefault((backend, r["op"], r["dtype"], r["arch"]), []).append(r)
    out = ["| backend | kernel | dtype | arch | instantiations | registers | spill bytes | threads/block | "
           "shared/block | occupancy (limited by) |", "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for (backend, op, dtype, arch), rs in sorted(groups.items()):
        regs = sorted({r["registers"] for r in rs})
        occ = min(rs, key=lambda r: r["occupancy"])
        occ_hi = max(r["occupancy"] for r in rs)
        smem = max(r["smem_static"] + r["smem_dynamic"] for r in rs)
        occ_txt = f"{occ['occupancy']:.0%}" + (f"-{occ_hi:.0%}" if occ_hi != occ["occupancy"] else "")
        out.append(f"| {backend} | {op} | {dtype} | sm_{arch} | {len(rs)} | {regs[0]}" +
                   (f"-{regs[-1]}" if len(regs) > 1 else "") +
                   f" | {max(r['spill_bytes'] for r in rs)} | {occ['threads']} | {smem} | "
                   f"{occ_txt} ({occ['limiter']}) |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for resources.json and resources.md")
    ap.add_argument("--arch", type=int, nargs="+", default=[80, 90], choices=sorted(SM_LIMITS))
    ap.add_argument("--check", action="store_true", help="exit 1 if a fused neuron kernel spills")
    args = ap.parse_args()
    threads = threads_per_block_cuda()
    # Each compile (a .cu for one architecture, the Triton kernels for one) is one process:
    # run them side by side on every core, and report them in this fixed order.
    jobs = []
    for arch in args.arch:
        jobs += [(cuda_rows, src, arch, threads, arch == args.arch[0]) for src in sorted(CU_DIR.glob("*.cu"))]
        jobs.append((triton_rows, arch))
    print(f"compiling: every CUDA source and the Triton kernels for {', '.join(f'sm_{a}' for a in args.arch)} "
          f"({len(jobs)} compiles) ...", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = [pool.submit(job[0], *job[1:]) for job in jobs]
    rows, notes = [], []
    for job, future in zip(jobs, done):
        if job[0] is triton_rows:
            trows, why = future.result()
            rows += trows
            if why and f"Triton kernels not reported: {why}." not in notes:
                notes.append(f"Triton kernels not reported: {why}.")
        else:
            rows += future.result()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "resources.json").write_text(
        "{\"ilc_p\": %d, \"sm_limits\": %s, \"rows\": [\n%s\n]}\n"
        % (ILC_P, json.dumps(SM_LIMITS), ",\n".join(json.dumps(r) for r in rows)))
    table = summarize(rows)
    md = ["# GPU resources of every kernel (no GPU needed)", "",
          f"Made by `python benchmarks/gpu_resources.py --out {args.out}`: ptxas -v for csrc/cuda/*.cu "
          "(nvcc -fmad=false, as CMake and setup.py build them), the bundled cuobjdump on the Triton "
          "cubins. Occupancy is the share of an SM's 64 warps resident at once, from registers, "
          "threads and shared memory per block; ILC kernels at P = %d (ILC-SAN). The bandwidth "
          "this implies is discussed in docs/ARCHITECTURE.md, \"GPU resources\"." % ILC_P, "", *table, ""]
    md += [f"{n}" for n in notes]
    (out / "resources.md").write_text("\n".join(md) + "\n")
    print("\n".join(table))
    spills = [r for r in rows if r["spill_bytes"] > 0 and r["op"] not in SUM_KERNELS.values()]
    for r in spills:
        print(f"SPILL: {r['kernel']} sm_{r['arch']}: {r['spill_bytes']} bytes", file=sys.stderr)
    print(f"{len(rows)} kernel instantiations; {len(spills)} fused neuron kernels spill; wrote {out}/resources.md")
    return 1 if args.check and spills else 0


if __name__ == "__main__":
    sys.exit(main())
