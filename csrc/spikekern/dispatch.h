// Turning run-time flags into compile-time constants, so each inner loop is branch-free
// and vectorises. Framework-free: used by the torch binding and by the C++ tests.
#pragma once

#include <stdexcept>
#include <type_traits>

#include "neuron_math.h"

namespace spikekern {
inline namespace SK_ISA_NAMESPACE {

template <bool B>
using Bool = std::integral_constant<bool, B>;
template <int K>
using Kind = std::integral_constant<int, K>;

template <typename F>
void with_bool(bool b, F&& f) {
  if (b) f(Bool<true>{});
  else f(Bool<false>{});
}

template <typename F>
void with_surrogate(int kind, F&& f) {
  switch (kind) {
    case kQGate: f(Kind<kQGate>{}); break;
    case kRect: f(Kind<kRect>{}); break;
    case kSigmoid: f(Kind<kSigmoid>{}); break;
    case kATan: f(Kind<kATan>{}); break;
    case kPass: f(Kind<kPass>{}); break;
    default: throw std::invalid_argument("spikekern: unknown surrogate code");
  }
}

// A kernel's arithmetic flavour: its reset (SOFT), and in the backward its surrogate (KIND)
// and detach_reset (DETACH). Every combination is compiled, except in a build that defines
// SK_ONE_FLAVOUR: the CUDA execution harness under the sanitizers and its mutants
// (CMakeLists.txt), which check indexing, memory and synchronisation. No address a kernel
// touches depends on the flavour, so those builds compile one, kOneFlavour*, instead of 20:
// under AddressSanitizer their every instantiation was most of the C++ build's time. Asking
// such a build for another flavour is a logic_error; flavour_compiled() says which it has.
constexpr int kOneFlavourKind = kSigmoid;
constexpr bool kOneFlavourSoft = false, kOneFlavourDetach = false;

constexpr bool flavour_compiled(int kind, bool soft, bool detach) {
#ifdef SK_ONE_FLAVOUR
  return kind == kOneFlavourKind && soft == kOneFlavourSoft && detach == kOneFlavourDetach;
#else
  return (void)kind, (void)soft, (void)detach, true;
#endif
}

// f(SOFT): the forward's flavour.
template <typename F>
void with_reset(bool soft, F&& f) {
#ifdef SK_ONE_FLAVOUR
  if (soft != kOneFlavourSoft) throw std::logic_error("spikekern: this build compiles one reset (SK_ONE_FLAVOUR)");
  f(Bool<kOneFlavourSoft>{});
#else
  with_bool(soft, f);
#endif
}

// f(KIND, SOFT, DETACH): the backward's flavour.
template <typename F>
void with_flavour(int kind, bool soft, bool detach, F&& f) {
#ifdef SK_ONE_FLAVOUR
  if (!flavour_compiled(kind, soft, detach))
    throw std::logic_error("spikekern: this build compiles one flavour (SK_ONE_FLAVOUR)");
  f(Kind<kOneFlavourKind>{}, Bool<kOneFlavourSoft>{}, Bool<kOneFlavourDetach>{});
#else
  with_surrogate(kind, [&](auto KIND) {
    with_bool(soft, [&](auto SOFT) { with_bool(detach, [&](auto DETACH) { f(KIND, SOFT, DETACH); }); });
  });
#endif
}

// f(KIND): a backward whose one choice is its surrogate (CLIF: soft reset, nothing detached).
template <typename F>
void with_kind(int kind, F&& f) {
#ifdef SK_ONE_FLAVOUR
  if (kind != kOneFlavourKind) throw std::logic_error("spikekern: this build compiles one surrogate (SK_ONE_FLAVOUR)");
  f(Kind<kOneFlavourKind>{});
#else
  with_surrogate(kind, f);
#endif
}

}  // inline namespace SK_ISA_NAMESPACE
}  // namespace spikekern
