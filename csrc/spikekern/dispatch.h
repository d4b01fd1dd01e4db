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

}  // inline namespace SK_ISA_NAMESPACE
}  // namespace spikekern
