"""Builds spikekern._C with torch's cpp_extension.

CPU sources are always built. One build runs on every x86-64 machine: the extension is
compiled for x86-64-v2, and the CPU kernels once more for AVX2 (x86-64-v3) and AVX-512
(x86-64-v4) (csrc/cpu/isa_*.inc, each compiled in three parts), the best of which is chosen
when the extension loads (SPIKEKERN_CPU_ISA=baseline|avx2|avx512 forces one).
SPIKEKERN_MARCH sets another -march for the whole build (e.g. native: tuned for, and only
runnable on, this machine's CPU).
CUDA sources (csrc/cuda/) are added when the installed torch has CUDA and nvcc is found;
set SPIKEKERN_CUDA=0 to skip them, =1 to require them.
Install with `pip install -e . --no-build-isolation` so the build uses the installed torch.
"""
import glob
import os
import platform

from setuptools import setup
from torch.utils import cpp_extension

HERE = os.path.dirname(os.path.abspath(__file__))
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
MARCH = os.environ.get("SPIKEKERN_MARCH", "x86-64-v2" if X86_64 else "")
# No floating-point contraction: the kernels must round exactly like the reference loop.
# -fno-trapping-math changes no result (it only drops the assumption that FP exceptions
# trap) and lets GCC if-convert the clamps in fast_expf, so the surrogate loops vectorise.
CXX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp"]  # torch adds -std=c++20
CXX_FLAGS += [f"-march={MARCH}"] if MARCH else []
# No debug information (Python's own flags carry -g): for the kernels' thousands of template
# instantiations it made the objects 7x larger and the build slower (torch's headers: 38%).
# SPIKEKERN_DEBUG_INFO=1 keeps it, for a debugger.
CXX_FLAGS += [] if os.environ.get("SPIKEKERN_DEBUG_INFO") == "1" else ["-g0"]
# -fmad=false: no fused multiply-add, the same rounding as the CPU kernels and the reference.
NVCC_FLAGS = ["-O3", "-fmad=false"] + ([f"-Xcompiler=-march={MARCH}"] if MARCH else [])


def want_cuda() -> bool:
    import torch

    flag = os.environ.get("SPIKEKERN_CUDA")
    have = torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
    if flag == "1" and not have:
        raise RuntimeError("SPIKEKERN_CUDA=1 but torch has no CUDA or nvcc was not found")
    return have and flag != "0"


# Architectures when building CUDA kernels without a visible GPU (and without
# TORCH_CUDA_ARCH_LIST): Ampere, Ada and Hopper. With a GPU visible, torch builds for it.
DEFAULT_CUDA_ARCHS = "8.0;8.6;8.9;9.0"


def extension():
    rel = lambda pattern: sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern)))
    sources = rel("csrc/op_schemas.cpp") + rel("csrc/autograd.cpp") + rel("csrc/cpu/*.cpp")
    cuda_sources = rel("csrc/cuda/*.cu") + rel("csrc/cuda/*.cpp")
    if want_cuda() and cuda_sources:
        import torch

        if "TORCH_CUDA_ARCH_LIST" not in os.environ and torch.cuda.device_count() == 0:
            os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_CUDA_ARCHS
        return cpp_extension.CUDAExtension(
            "spikekern._C",
            sources + cuda_sources,
            extra_compile_args={"cxx": CXX_FLAGS, "nvcc": NVCC_FLAGS},
            extra_link_args=["-fopenmp"],
        )
    return cpp_extension.CppExtension(
        "spikekern._C", sources, extra_compile_args={"cxx": CXX_FLAGS}, extra_link_args=["-fopenmp"]
    )


setup(ext_modules=[extension()], cmdclass={"build_ext": cpp_extension.BuildExtension})
