// A caching pool for the CPU ops' own large outputs (spikes, potentials, input gradients).
//
// A fresh multi-megabyte block from glibc is a fresh mmap: every page faults on first
// write, which for a 64 MB output costs about as much as the kernel that fills it. The
// pool keeps the blocks of outputs that died and hands them to the next output of about
// the same size, already mapped. Only the ops' outputs go through it; the process
// allocator is left as it is. Blocks under kMinPooledBytes go to torch's CPU allocator
// (glibc recycles small blocks well). Idle blocks are bounded by a limit
// (SPIKEKERN_CPU_POOL_MB, default 1024; 0 turns the pool off) and freed on demand.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace spikekern {
namespace cpu_pool {

constexpr int64_t kMinPooledBytes = int64_t(1) << 20;

struct Stats {
  int64_t cached_bytes;  // idle blocks held by the pool
  int64_t in_use_bytes;  // pooled blocks held by live tensors
  int64_t limit_bytes;   // most idle bytes kept
  int64_t hits;          // allocations served from an idle block
  int64_t misses;        // allocations that took a fresh block
  int64_t returned;      // blocks kept for reuse when their tensor died
  int64_t released;      // blocks freed (over the limit, or by empty())
};

// An uninitialised contiguous CPU tensor whose storage comes from the pool.
at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options);
Stats stats();
void empty_cache();  // frees every idle block
void set_limit(int64_t bytes);  // also frees idle blocks over the new limit

}  // namespace cpu_pool
}  // namespace spikekern
