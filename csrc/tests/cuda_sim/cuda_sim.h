// A CPU execution harness for spikekern's CUDA kernels (tests only).
//
// csrc/cuda/*.cu compile unchanged as C++ with the host compiler when this folder's
// include/ comes first on the include path: its cuda_runtime.h, cuda_runtime_api.h,
// cuda_fp16.h and cuda_bf16.h stand in for the toolkit's and bring in this file. A launch
// (cudaLaunchKernelEx, which the kernels' launchers use) then runs the kernel on the CPU
// with CUDA's execution model:
//
// - a grid of blocks, one block after another, in a shuffled order;
// - a block's threads run concurrently as fibers (ucontext) on one OS thread, each with
//   its own stack, switching at __syncthreads(), which is a real barrier: no thread passes
//   it until every thread of the block has reached it. At each barrier phase the threads
//   resume in a new order (shuffled, or forward/reverse), so code that reads what another
//   thread writes without a barrier in between sees a different value under some order;
// - threadIdx/blockIdx/blockDim/gridDim; dynamic shared memory per block (extern
//   __shared__, sized by the launch, filled with 0xFF bytes, a NaN in float and double,
//   before each block so that reading it before writing shows), shared by the block's
//   threads (fibers of one OS thread share its thread-local storage);
// - CUDA's launch limits: block and grid dimensions, at most 48 KiB of dynamic shared
//   memory unless the kernel opted in with cudaFuncSetAttribute (at most 227 KiB, sm_90);
//   an empty grid is an invalid configuration, as on a GPU;
// - every thread of a block must reach the same barriers: a thread that returns while
//   others wait at a __syncthreads() fails the launch (undefined behaviour in CUDA).
//
// Device memory is host memory: a kernel gets the pointers the caller passes. Built with
// -fsanitize=address,undefined, out-of-bounds global and shared accesses, misaligned vector
// loads (alignas(16) packs) and use of freed memory are reported as compute-sanitizer's
// memcheck would. What this cannot check: speed, warp-level behaviour (there are no warps:
// threads switch only at barriers), the GPU memory model, and device intrinsics' own
// rounding (expf here is the C library's). docs/ARCHITECTURE.md, "The CUDA kernels on the
// CPU", says the same for users.
#pragma once

#include <ucontext.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SK_SIM_ASAN 1
#endif

// ------------------------------------------------------------------------- runtime types
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};
enum cudaFuncAttribute : int { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

struct cudaLaunchConfig_t {
  dim3 gridDim;
  dim3 blockDim;
  size_t dynamicSmemBytes;
  cudaStream_t stream;
  void* attrs;
  unsigned numAttrs;
};

// ----------------------------------------------------------------------- half, bfloat16
// Storage types with the toolkit's round-to-nearest-even conversions (checked against the
// compiler's _Float16 and an independent bfloat16 rounding by test_cuda_sim.cpp).
struct __half {
  unsigned short __x;
};
struct __nv_bfloat16 {
  unsigned short __x;
};

inline float sk_sim_bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t sk_sim_float_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

inline float __half2float(__half h) {
  const uint32_t sign = uint32_t(h.__x & 0x8000u) << 16, e = (h.__x >> 10) & 0x1fu, m = h.__x & 0x3ffu;
  if (e == 0x1f) return sk_sim_bits_to_float(sign | 0x7f800000u | (m << 13));
  if (e == 0) {  // zero or subnormal: m * 2^-24
    const float mag = std::ldexp(static_cast<float>(m), -24);
    return sign ? -mag : mag;
  }
  return sk_sim_bits_to_float(sign | ((e + 112u) << 23) | (m << 13));
}

inline __half __float2half_rn(float f) {
  const uint32_t x = sk_sim_float_to_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  uint32_t h;
  if (ax > 0x7f800000u) {
    h = 0x7e00u;  // NaN
  } else if (ax >= 0x477ff000u) {
    h = 0x7c00u;  // at least 65520 (and inf): rounds to inf
  } else if (ax >= 0x38800000u) {  // normal in half: rebias, round away 13 bits to even
    h = (ax + 0xfffu + ((ax >> 13) & 1u) - 0x38000000u) >> 13;
  } else if (ax >= 0x33000000u) {  // subnormal in half: round(|f| / 2^-24) to even
    const int shift = 126 - static_cast<int>(ax >> 23);
    const uint32_t mant = (ax & 0x7fffffu) | 0x800000u, half_ulp = 1u << (shift - 1);
    const uint32_t rem = mant & ((1u << shift) - 1u);
    h = mant >> shift;
    if (rem > half_ulp || (rem == half_ulp && (h & 1u))) ++h;
  } else {
    h = 0;
  }
  return __half{static_cast<unsigned short>(sign | h)};
}

inline float __bfloat162float(__nv_bfloat16 b) { return sk_sim_bits_to_float(uint32_t(b.__x) << 16); }

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  const uint32_t x = sk_sim_float_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{static_cast<unsigned short>((x >> 16) | 0x40u)};
  return __nv_bfloat16{static_cast<unsigned short>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16)};
}

// ------------------------------------------------------------------------ the simulator
namespace sk_sim {

enum class Order { kShuffled, kForward, kReverse };

// Largest dynamic shared memory a block may opt in to (sm_90: 227 KiB), and without opting in.
constexpr size_t kMaxSharedOptIn = 227 * 1024;
constexpr size_t kMaxSharedDefault = 48 * 1024;
constexpr unsigned kMaxThreads = 1024;
#if defined(SK_SIM_ASAN)
constexpr size_t kStackBytes = 64 * 1024;  // small: ASan clears a stack's shadow at each switch
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif

struct Settings {
  Order order = Order::kShuffled;
  uint64_t seed = 1;
};

// What the last launch was asked to do (tests check which code path a launcher chose).
struct LaunchRecord {
  dim3 grid, block;
  size_t smem = 0;
  cudaError_t result = cudaSuccess;
};

enum class FiberState { kRunning, kAtBarrier, kDone };

struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;  // mmap'd, with a guard page below
  FiberState state = FiberState::kRunning;
  uint3 tid{0, 0, 0};
  void* asan_fake_stack = nullptr;
};

struct State {
  Settings settings;
  LaunchRecord last;
  cudaError_t last_error = cudaSuccess;
  std::map<const void*, size_t> smem_opt_in;  // kernel -> cudaFuncAttributeMaxDynamicSharedMemorySize
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  uint64_t launches = 0;
  const void* sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
};

inline State& state() {
  static thread_local State s;
  return s;
}

}  // namespace sk_sim

// The CUDA built-in variables and the block's dynamic shared memory. thread_local: a block
// runs on one OS thread, so its fibers share these as a block's threads do (the scheduler
// sets threadIdx before resuming each fiber).
inline thread_local uint3 threadIdx{0, 0, 0};
inline thread_local uint3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace spikekern {
namespace cuda {
// Defines the extern __shared__ array that csrc/cuda/cuda_common.cuh (dynamic_shared) declares.
inline __thread __attribute__((aligned(16))) unsigned char sk_dynamic_shared[sk_sim::kMaxSharedOptIn];
}  // namespace cuda
}  // namespace spikekern

namespace sk_sim {

inline void fail(const std::string& why) {
  std::fprintf(stderr, "cuda_sim: %s\n", why.c_str());
}

inline void set_schedule(Order order, uint64_t seed) {
  state().settings = Settings{order, seed};
}
inline const LaunchRecord& last_launch() { return state().last; }

// Not inlined: swapcontext returns twice, so a caller's locals could be clobbered.
__attribute__((noinline)) inline void switch_to(Fiber& f) {
  State& st = state();
  st.current = &f;
  threadIdx = f.tid;
#if defined(SK_SIM_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack, kStackBytes);
  swapcontext(&st.scheduler, &f.ctx);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  swapcontext(&st.scheduler, &f.ctx);
#endif
}

// From a fiber back to the scheduler; `final` when the fiber will never resume.
__attribute__((noinline)) inline void yield_to_scheduler(bool final) {
  State& st = state();
  Fiber& f = *st.current;
#if defined(SK_SIM_ASAN)
  __sanitizer_start_switch_fiber(final ? nullptr : &f.asan_fake_stack, st.sched_stack_bottom, st.sched_stack_size);
  swapcontext(&f.ctx, &st.scheduler);
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, &st.sched_stack_bottom, &st.sched_stack_size);
#else
  (void)final;
  swapcontext(&f.ctx, &st.scheduler);
#endif
}

inline void fiber_main() {
  State& st = state();
#if defined(SK_SIM_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &st.sched_stack_bottom, &st.sched_stack_size);
#endif
  (*st.body)();
  st.current->state = FiberState::kDone;
  yield_to_scheduler(true);
  std::abort();  // a finished fiber is never resumed
}

inline void ensure_stacks(size_t n) {
  State& st = state();
  const size_t page = 4096;
  while (st.fibers.size() < n) {
    void* mem = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
      fail("cannot map a fiber stack");
      std::abort();
    }
    mprotect(mem, page, PROT_NONE);  // a stack overflow faults instead of corrupting memory
    Fiber f;
    f.stack = static_cast<char*>(mem) + page;
    st.fibers.push_back(f);
  }
}

// A fresh context at fiber_main for thread `tid`. Not inlined: getcontext returns twice.
__attribute__((noinline)) inline void prepare_fiber(Fiber& f, uint3 tid) {
  f.state = FiberState::kRunning;
  f.asan_fake_stack = nullptr;
  f.tid = tid;
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = kStackBytes;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, fiber_main, 0);
}

// Runs one block: every thread as a fiber, phase by phase between barriers.
inline cudaError_t run_block(unsigned nthreads, std::mt19937_64& rng) {
  State& st = state();
  for (unsigned i = 0; i < nthreads; ++i)
    prepare_fiber(st.fibers[i], uint3{i % blockDim.x, (i / blockDim.x) % blockDim.y, i / (blockDim.x * blockDim.y)});
  std::vector<unsigned> order(nthreads);
  std::iota(order.begin(), order.end(), 0u);
  for (;;) {
    if (st.settings.order == Order::kShuffled) std::shuffle(order.begin(), order.end(), rng);
    else if (st.settings.order == Order::kReverse) std::reverse(order.begin(), order.end());
    for (unsigned i : order) {
      Fiber& f = st.fibers[i];
      if (f.state == FiberState::kDone) continue;
      f.state = FiberState::kRunning;
      switch_to(f);
    }
    unsigned waiting = 0, done = 0;
    for (unsigned i = 0; i < nthreads; ++i) {
      waiting += st.fibers[i].state == FiberState::kAtBarrier;
      done += st.fibers[i].state == FiberState::kDone;
    }
    if (done == nthreads) return cudaSuccess;
    if (done > 0) {
      fail("block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "): " +
           std::to_string(waiting) + " threads wait at __syncthreads() while " + std::to_string(done) +
           " have returned (divergent barrier)");
      return cudaErrorLaunchFailure;
    }
  }
}

inline bool dims_ok(const dim3& grid, const dim3& block) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  return grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 0x7fffffffu && grid.y <= 65535 &&
         grid.z <= 65535 && block.x >= 1 && block.y >= 1 && block.z >= 1 && block.x <= 1024 &&
         block.y <= 1024 && block.z <= 64 && threads <= kMaxThreads;
}

inline cudaError_t launch(const void* kernel, const cudaLaunchConfig_t& cfg, const std::function<void()>& body) {
  State& st = state();
  st.last = LaunchRecord{cfg.gridDim, cfg.blockDim, cfg.dynamicSmemBytes, cudaSuccess};
  ++st.launches;
  auto finish = [&](cudaError_t e) {
    st.last.result = e;
    if (e != cudaSuccess) st.last_error = e;
    return e;
  };
  if (!dims_ok(cfg.gridDim, cfg.blockDim)) {
    fail("invalid launch configuration: grid (" + std::to_string(cfg.gridDim.x) + "," + std::to_string(cfg.gridDim.y) +
         "," + std::to_string(cfg.gridDim.z) + "), block (" + std::to_string(cfg.blockDim.x) + "," +
         std::to_string(cfg.blockDim.y) + "," + std::to_string(cfg.blockDim.z) + ")");
    return finish(cudaErrorInvalidConfiguration);
  }
  auto opt = st.smem_opt_in.find(kernel);
  const size_t allowed = opt == st.smem_opt_in.end() ? kMaxSharedDefault : std::max(opt->second, kMaxSharedDefault);
  if (cfg.dynamicSmemBytes > allowed) {
    fail("a launch asks for " + std::to_string(cfg.dynamicSmemBytes) + " bytes of dynamic shared memory; the kernel allows " +
         std::to_string(allowed) + " (cudaFuncSetAttribute opts in to more)");
    return finish(cudaErrorInvalidValue);
  }
  const unsigned nthreads = cfg.blockDim.x * cfg.blockDim.y * cfg.blockDim.z;
  ensure_stacks(nthreads);
  gridDim = cfg.gridDim;
  blockDim = cfg.blockDim;
  st.body = &body;
  std::mt19937_64 rng(st.settings.seed * 0x9E3779B97F4A7C15ull + st.launches);
  std::vector<uint3> blocks;
  for (unsigned z = 0; z < cfg.gridDim.z; ++z)
    for (unsigned y = 0; y < cfg.gridDim.y; ++y)
      for (unsigned x = 0; x < cfg.gridDim.x; ++x) blocks.push_back(uint3{x, y, z});
  if (st.settings.order == Order::kShuffled) std::shuffle(blocks.begin(), blocks.end(), rng);
  else if (st.settings.order == Order::kReverse) std::reverse(blocks.begin(), blocks.end());
  unsigned char* smem = spikekern::cuda::sk_dynamic_shared;
  cudaError_t err = cudaSuccess;
  for (const uint3& b : blocks) {
    blockIdx = b;
    std::memset(smem, 0xFF, kMaxSharedOptIn);
#if defined(SK_SIM_ASAN)
    ASAN_POISON_MEMORY_REGION(smem + cfg.dynamicSmemBytes, kMaxSharedOptIn - cfg.dynamicSmemBytes);
#endif
    err = run_block(nthreads, rng);
#if defined(SK_SIM_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(smem, kMaxSharedOptIn);
#endif
    for (size_t i = cfg.dynamicSmemBytes; err == cudaSuccess && i < kMaxSharedOptIn; ++i)
      if (smem[i] != 0xFF) {
        fail("a block wrote dynamic shared memory at byte " + std::to_string(i) + ", past the launch's " +
             std::to_string(cfg.dynamicSmemBytes) + " bytes");
        err = cudaErrorLaunchFailure;
      }
    if (err != cudaSuccess) break;
  }
  st.body = nullptr;
  return finish(err);
}

}  // namespace sk_sim

// ------------------------------------------------------------------------- runtime API
inline void __syncthreads() {
  sk_sim::state().current->state = sk_sim::FiberState::kAtBarrier;
  sk_sim::yield_to_scheduler(false);
}

inline cudaError_t cudaGetLastError() {
  const cudaError_t e = sk_sim::state().last_error;
  sk_sim::state().last_error = cudaSuccess;
  return e;
}

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > sk_sim::kMaxSharedOptIn)
    return sk_sim::state().last_error = cudaErrorInvalidValue;
  sk_sim::state().smem_opt_in[reinterpret_cast<const void*>(kernel)] = static_cast<size_t>(value);
  return cudaSuccess;
}

// The runtime's typed launch: arguments are converted to the kernel's parameter types once,
// and every thread gets its own copy of them, as kernel parameters are per thread.
template <typename... ExpTypes, typename... ActTypes>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* config, void (*kernel)(ExpTypes...), ActTypes&&... args) {
  return [&](ExpTypes... coerced) {
    const std::function<void()> body = [&] { kernel(coerced...); };
    return sk_sim::launch(reinterpret_cast<const void*>(kernel), *config, body);
  }(std::forward<ActTypes>(args)...);
}
