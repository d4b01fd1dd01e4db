"""The GPU resource report's arithmetic (benchmarks/gpu_resources.py): occupancy against
values worked out by hand from the CUDA occupancy rules, and the ptxas parsing on a fixed
excerpt. The report itself runs in CI where nvcc is installed (.ci/run)."""
import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "gpu_resources.py")
_spec = importlib.util.spec_from_file_location("gpu_resources", _PATH)
gpu_resources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_resources)


@pytest.mark.parametrize("arch,regs,threads,smem,occ,limiter", [
    (90, 32, 256, 0, 1.0, "full"),            # 32 regs x 2048 threads = the whole register file
    (90, 40, 256, 0, 0.75, "registers"),      # 40*32 = 1280 per warp: 51 warps -> 6 blocks of 8
    (90, 64, 256, 0, 0.5, "registers"),       # 2048 per warp: 32 warps
    (80, 122, 128, 0, 0.25, "registers"),     # 128 per thread (rounded): 16 warps
    (90, 48, 250, 2840, 0.625, "registers"),  # 250 threads are 8 warps; 1536 per warp: 5 blocks
    (80, 16, 1024, 100_000, 0.5, "shared memory"),  # 164 KiB / (100000 + 1024) -> 1 block
    (90, 16, 32, 0, 0.5, "blocks"),           # 32 blocks of one warp
])
def test_occupancy_by_hand(arch, regs, threads, smem, occ, limiter):
    got = gpu_resources.occupancy(arch, regs, threads, smem)
    assert got["occupancy"] == pytest.approx(occ)
    assert got["limiter"] == limiter


def test_cuda_kernel_info_reads_the_instantiation():
    info = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::backward_steps_kernel<spikekern::generic::CubaNeuron, "
        "__half, float, 8, 2, false, true>(__half const*, float*)", 256)
    assert info == dict(op="cuba_lif_backward", dtype="float16", vector=8, threads=256, smem_dynamic=0)
    ilc = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::ilc_bwd_kernel<double, double, 1, true, false>(double const*)", 256)
    p = gpu_resources.ILC_P
    bm = 256 // p
    assert ilc["threads"] == bm * p and ilc["smem_dynamic"] == 8 * (2 * p * p + p + 2 * bm * p)
    plif = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::backward_param_steps_kernel<spikekern::generic::PlifNeuron<true>, "
        "float, float, 4, 2, false, true>(float const*, double*)", 256)
    assert plif == dict(op="plif_backward", dtype="float32", vector=4, threads=256, smem_dynamic=8 * 256)
    clif = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::backward_state_steps_kernel<spikekern::generic::ClifNeuron, "
        "double, double, 2, 1>(double const*, double const*, double const*)", 256)
    assert clif == dict(op="clif_backward", dtype="float64", vector=2, threads=256, smem_dynamic=0)
    clif_fwd = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::forward_steps_kernel<spikekern::generic::ClifNeuron, "
        "float, float, 4, true, true>(float const*)", 256)
    assert clif_fwd["op"] == "clif_forward"
    total = gpu_resources.cuda_kernel_info(
        "void spikekern::cuda::(anonymous namespace)::sum_blocks_kernel<float>(double const*, long, float*)", 256)
    assert total["op"] == "plif_sum_blocks"
