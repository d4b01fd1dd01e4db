"""Compile every Triton kernel of spikekern for a GPU target without a GPU (Triton's
compiler runs on any machine; only launching needs the device), so a kernel that the
interpreter accepts but the compiler rejects fails here, not on the first GPU run.

    python -m spikekern.backends.triton_backend.ahead [CAPABILITY] [--cubin-dir DIR]

Run in a process WITHOUT TRITON_INTERPRET (under the interpreter `@triton.jit` yields
interpreted functions, which cannot be compiled); prints one JSON line per compile.
python_tests/test_triton_compile.py runs it; benchmarks/gpu_resources.py reads the cubins
that --cubin-dir keeps (registers, spills, shared memory).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from spikekern.backends.triton_backend import common, ilc, lif_cuba, ops

# Pointers to the accumulation dtype (the rest point to the I/O dtype).
_ACC_POINTERS = {"h_ptr", "m_ptr", "p_ptr", "q_ptr", "pp_ptr", "vinit_ptr", "gvi_ptr", "gw_part_ptr", "gb_part_ptr"}
_TRITON_DTYPE = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}
DTYPES = ["float32", "bfloat16", "float16", "float64"]  # the I/O dtypes each kernel is compiled for
# Every kernel the ops launch: the modules' @triton.jit functions named *_kernel (the loops
# and helpers they call are compiled inside them), so a new neuron's kernels join the list by
# their names alone.
KERNELS = [fn for module in (lif_cuba, ilc) for name, fn in vars(module).items()
           if name.endswith("_kernel") and isinstance(fn, triton.runtime.jit.KernelInterface)]


def variants(kernel):
    """(io dtype, constexpr values) cases: every flag both ways, each surrogate once, and
    each I/O dtype, without the full product."""
    block_m, p_pad = ops._ilc_tiles(100, 10)
    fixed = {"BLOCK": common.BLOCK, "BLOCK_M": block_m, "P_PAD": p_pad}
    flags = [p.name for p in kernel.params if p.is_constexpr and p.name not in fixed and p.name != "KIND"]
    has_kind = any(p.name == "KIND" for p in kernel.params)
    for i, (dtype, on) in enumerate(itertools.product(DTYPES, (True, False))):
        consts = dict(fixed, **{f: on for f in flags})
        if has_kind:
            consts["KIND"] = i % 5
        yield dtype, consts


def signature(kernel, dtype: str, consts: dict):
    io = _TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    sig, constexprs = {}, {}
    for i, p in enumerate(kernel.params):
        if p.is_constexpr:
            sig[p.name] = "constexpr"
            constexprs[(i,)] = consts[p.name]
        elif p.name.endswith("_ptr"):
            sig[p.name] = "*" + (acc if p.name in _ACC_POINTERS else io)
        else:
            sig[p.name] = "i64"  # sizes and offsets: the widest Triton would pick
    return sig, constexprs


def main(capability: int, cubin_dir: str | None = None) -> int:
    target = GPUTarget("cuda", capability, 32)
    failed = 0
    for kernel in KERNELS:
        for i, (dtype, consts) in enumerate(variants(kernel)):
            sig, constexprs = signature(kernel, dtype, consts)
            case = {"kernel": kernel.__name__, "sm": capability, "dtype": dtype, "constexprs": consts}
            try:
                compiled = triton.compile(ASTSource(fn=kernel, signature=sig, constexprs=constexprs),
                                          target=target)
                case["cubin_bytes"] = len(compiled.asm["cubin"])
                case["num_warps"] = compiled.metadata.num_warps
                case["shared"] = compiled.metadata.shared
                if cubin_dir:
                    path = os.path.join(cubin_dir, f"{kernel.__name__}-sm{capability}-{i}.cubin")
                    with open(path, "wb") as f:
                        f.write(compiled.asm["cubin"])
                    case["cubin"] = path
            except Exception as e:  # report every failing case, not only the first
                case["error"] = f"{type(e).__name__}: {e}"[:2000]
                failed += 1
            print(json.dumps(case), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    assert os.environ.get("TRITON_INTERPRET") != "1", "run without TRITON_INTERPRET (see module doc)"
    ap = argparse.ArgumentParser(description="Compile every Triton kernel for a GPU target, without a GPU.")
    ap.add_argument("capability", nargs="?", type=int, default=90, help="compute capability, e.g. 80 or 90")
    ap.add_argument("--cubin-dir", help="keep each compiled kernel's cubin in this folder")
    args = ap.parse_args()
    sys.exit(main(args.capability, args.cubin_dir))
