// The caching pool of output_pool.h: a c10::Allocator whose blocks go back to an idle list
// when their tensor dies, reused best-fit, evicted oldest-first above the limit.
#include "output_pool.h"

#include "../op_common.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <list>
#include <map>
#include <mutex>
#include <string>

namespace spikekern {
namespace cpu_pool {
namespace {

// Sizes are rounded up to this, and an idle block serves a request up to 1/8 smaller, so
// outputs whose size varies a little (the last batch of an epoch) still reuse blocks.
constexpr size_t kGranule = size_t(64) << 10;

struct Block {
  void* ptr;
  size_t size;
};

int64_t limit_from_env() {
  return env_megabytes("SPIKEKERN_CPU_POOL_MB", int64_t(1024) << 20, "turns the pool off");
}

class Pool final : public c10::Allocator {
 public:
  Pool() : limit_(limit_from_env()) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < size_t(kMinPooledBytes) || limit() == 0) return c10::GetCPUAllocator()->allocate(n);
    const size_t size = (n + kGranule - 1) / kGranule * kGranule;
    Block* b = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_size_.lower_bound(size);
      if (it != by_size_.end() && it->first - size <= size / 8) {
        b = new Block(*it->second);
        idle_.erase(it->second);
        by_size_.erase(it);
        stats_.cached_bytes -= int64_t(b->size);
        ++stats_.hits;
      } else {
        ++stats_.misses;
      }
    }
    if (b == nullptr) b = new Block{c10::alloc_cpu(size), size};  // throws on out-of-memory
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.in_use_bytes += int64_t(b->size);
    }
    return {b->ptr, b, &Pool::give_back, c10::Device(c10::DeviceType::CPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    Stats s = stats_;
    s.limit_bytes = limit_;
    return s;
  }

  void set_limit(int64_t bytes) {
    TORCH_CHECK(bytes >= 0, "spikekern: the CPU pool limit must be >= 0 bytes, got ", bytes);
    std::lock_guard<std::mutex> lock(mu_);
    limit_ = bytes;
    evict_to(limit_);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    evict_to(0);
  }

 private:
  int64_t limit() {
    std::lock_guard<std::mutex> lock(mu_);
    return limit_;
  }

  // The deleter of every pooled block: runs in whichever thread drops the last reference.
  static void give_back(void* ctx);

  void put(Block* b) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use_bytes -= int64_t(b->size);
    if (int64_t(b->size) > limit_) {
      ++stats_.released;
      c10::free_cpu(b->ptr);
    } else {
      evict_to(limit_ - int64_t(b->size));
      idle_.push_back(*b);
      by_size_.emplace(b->size, std::prev(idle_.end()));
      stats_.cached_bytes += int64_t(b->size);
      ++stats_.returned;
    }
    delete b;
  }

  // Frees the oldest idle blocks until at most `keep` idle bytes remain. Holds mu_.
  void evict_to(int64_t keep) {
    while (stats_.cached_bytes > keep && !idle_.empty()) {
      const Block oldest = idle_.front();
      auto range = by_size_.equal_range(oldest.size);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second == idle_.begin()) {
          by_size_.erase(it);
          break;
        }
      idle_.pop_front();
      stats_.cached_bytes -= int64_t(oldest.size);
      ++stats_.released;
      c10::free_cpu(oldest.ptr);
    }
  }

  std::mutex mu_;
  int64_t limit_;
  std::list<Block> idle_;  // oldest first
  std::multimap<size_t, std::list<Block>::iterator> by_size_;
  Stats stats_{};
};

// Never destroyed: tensors may outlive static destruction at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

void Pool::give_back(void* ctx) { pool().put(static_cast<Block*>(ctx)); }

}  // namespace

at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  TORCH_INTERNAL_ASSERT(options.device().is_cpu());
  return at::detail::empty_generic(sizes, &pool(), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                   c10::typeMetaToScalarType(options.dtype()), c10::MemoryFormat::Contiguous);
}

Stats stats() { return pool().stats(); }
void empty_cache() { pool().empty_cache(); }
void set_limit(int64_t bytes) { pool().set_limit(bytes); }

}  // namespace cpu_pool
}  // namespace spikekern
