// Choosing the CPU kernels' instruction-set build once, from the CPU's features, like
// ATen's CPU_CAPABILITY: avx512 (x86-64-v4) where the CPU has it, else avx2 (x86-64-v3),
// else baseline. SPIKEKERN_CPU_ISA=baseline|avx2|avx512 forces a build (for tests and for
// comparing paths); forcing one this CPU cannot run is an error, never a silent fallback.
// SPIKEKERN_CPU_ISA_MAX caps what counts as supported, so tests (and users) can see the
// dispatch of a lesser CPU on this one.
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>

#include "cpu_kernels.h"

namespace spikekern {
namespace cpu_isa {
namespace {

int rank(const std::string& isa) {
  if (isa == "baseline") return 0;
  if (isa == "avx2") return 1;
  if (isa == "avx512") return 2;
  return -1;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

void check_name(const char* var, const std::string& isa) {
  if (rank(isa) < 0)
    throw std::runtime_error(std::string("spikekern: ") + var + "=" + isa +
                             " is not a CPU kernel build; use baseline, avx2 or avx512 (or unset it)");
}

bool cpu_has(const std::string& isa) {
  const std::string max = env("SPIKEKERN_CPU_ISA_MAX");
  if (!max.empty()) {
    check_name("SPIKEKERN_CPU_ISA_MAX", max);
    if (rank(isa) > rank(max)) return false;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  // Also checks that the OS saves the wide registers (XCR0), as libgcc does.
  if (isa == "avx512") return __builtin_cpu_supports("x86-64-v4");
  if (isa == "avx2") return __builtin_cpu_supports("x86-64-v3");
#endif
  return isa == "baseline";
}

// One build's table from its parts' (each has null where the other parts' kernels go).
// This file is compiled for the baseline instruction set, so merging runs none of the
// build's own code.
std::optional<KernelTable> merged(std::initializer_list<const KernelTable*> parts) {
  std::optional<KernelTable> t;
  auto fill = [](auto& into, auto from) { into = into != nullptr ? into : from; };
  for (const KernelTable* p : parts) {
    if (p == nullptr) return std::nullopt;  // no such build on this platform
    if (!t) {
      t = *p;
      continue;
    }
    for (int i = 0; i < kMaxNeuronTypes; ++i) {
      fill(t->neuron_forward[i], p->neuron_forward[i]);
      fill(t->neuron_backward[i], p->neuron_backward[i]);
    }
    fill(t->ilc_cuba_lif_forward, p->ilc_cuba_lif_forward);
    fill(t->ilc_cuba_lif_backward, p->ilc_cuba_lif_backward);
    fill(t->spike_pack, p->spike_pack);
    fill(t->spike_unpack, p->spike_unpack);
    fill(t->spike_linear_forward, p->spike_linear_forward);
    fill(t->spike_linear_grad_weight, p->spike_linear_grad_weight);
    fill(t->spike_transpose, p->spike_transpose);
    fill(t->spike_columns, p->spike_columns);
  }
  return t;
}

// Merged once, on first use (a build that is never asked for is never looked at).
const KernelTable* table_named(const std::string& isa) {
  auto or_null = [](const std::optional<KernelTable>& t) { return t.has_value() ? &*t : nullptr; };
  if (isa == "avx512") {
    static const auto t = merged({table_avx512_part0(), table_avx512_part1(), table_avx512_part2()});
    return or_null(t);
  }
  if (isa == "avx2") {
    static const auto t = merged({table_avx2_part0(), table_avx2_part1(), table_avx2_part2()});
    return or_null(t);
  }
  if (isa == "baseline") {
    static const auto t = merged({table_baseline_part0(), table_baseline_part1(), table_baseline_part2()});
    return or_null(t);
  }
  return nullptr;
}

const KernelTable& choose() {
  const std::string isa = env("SPIKEKERN_CPU_ISA");
  if (!isa.empty()) {
    check_name("SPIKEKERN_CPU_ISA", isa);
    const KernelTable* t = table_named(isa);
    if (t == nullptr)
      throw std::runtime_error("spikekern: SPIKEKERN_CPU_ISA=" + isa +
                               ": this build of spikekern has no " + isa + " kernels (not an x86-64 build)");
    if (!cpu_has(isa))
      throw std::runtime_error("spikekern: SPIKEKERN_CPU_ISA=" + isa + " but this CPU cannot run it (" +
                               (isa == "avx512" ? "no AVX-512 F/BW/CD/DQ/VL" : "no AVX2/FMA/BMI2") +
                               (env("SPIKEKERN_CPU_ISA_MAX").empty()
                                    ? std::string()
                                    : ", or above SPIKEKERN_CPU_ISA_MAX=" + env("SPIKEKERN_CPU_ISA_MAX")) +
                               "); unset it to use the best build this CPU runs");
    return *t;
  }
  for (const char* isa : {"avx512", "avx2"})
    if (cpu_has(isa) && table_named(isa) != nullptr) return *table_named(isa);
  return *table_named("baseline");
}

}  // namespace

bool cpu_supports(const char* isa) { return cpu_has(isa); }

const KernelTable& kernels() {
  // Chosen once; an error (a bad SPIKEKERN_CPU_ISA) is thrown again on every call.
  static const KernelTable* chosen = &choose();
  return *chosen;
}

}  // namespace cpu_isa
}  // namespace spikekern
