// The arithmetic cost of one neuron-step, with memory out of the picture: each step of
// neuron_math.h run over one cached row of 512 neurons, over and over, compiled as the AVX2
// build compiles the CPU kernels (vectorised, FMA in the backward). It says whether a neuron
// is bound by its arithmetic (CLIF: two sigmoids a step each way) or by memory (LIF), which
// the full kernels' times cannot separate.
//
//   g++ -O3 -march=x86-64-v3 -ffp-contract=off -fno-trapping-math -DSK_ISA_FMA=1 -std=c++17
//       -Icsrc benchmarks/neuron_step_cost.cpp -o /tmp/neuron_step_cost  &&  /tmp/neuron_step_cost [REPS]
//
// Prints ns per neuron-step (one thread) and each as a multiple of the LIF forward step.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "spikekern/neuron_math.h"

using namespace spikekern;

namespace {

constexpr int kRow = 512;

// Seconds for `reps` calls of f; the empty asm with the rows' addresses keeps the compiler
// from dropping or merging the repetitions.
template <class F>
double seconds(int reps, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 200000;
  if (reps <= 0) {
    std::fprintf(stderr, "usage: %s [REPS > 0]\n", argv[0]);
    return 2;
  }
  std::mt19937 gen(0);
  std::normal_distribution<float> dist(0.5f, 0.5f);
  alignas(64) float x[kRow], v[kRow], m[kRow], h[kRow], s[kRow], g[kRow];
  for (int i = 0; i < kRow; ++i) x[i] = dist(gen), v[i] = m[i] = 0.0f, h[i] = x[i], g[i] = 0.0f;
  const LifCoeffs<float> lif{0.5f, 0.5f, 0.0f};
  const ClifCoeffs<float> clif{2.0f, 0.5f};  // SpikingJelly's defaults: tau 2, threshold 1, Rect alpha 1
  const FireParams<float> fp{1.0f, 0.0f, 4.0f};
  const FireParams<float> clif_fp{1.0f, 0.0f, 1.0f};
#define SK_KEEP asm volatile("" ::"r"(x), "r"(v), "r"(m), "r"(h), "r"(s), "r"(g) : "memory")
  struct Row {
    const char* name;
    double sec;
  } rows[] = {
      {"lif forward step", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) {
           const float hh = lif_charge(lif, v[i], x[i]);
           const float sp = fire(hh, fp.v_th);
           v[i] = reset<true>(hh, sp, fp.v_th, fp.v_reset), h[i] = hh, s[i] = sp;
         }
         SK_KEEP;
       })},
      {"lif reverse step (sigmoid surrogate)", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) g[i] = grad_h<kSigmoid, true, false>(h[i], x[i], 0.5f * g[i], fp);
         SK_KEEP;
       })},
      {"clif forward step", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) {
           float sp;
           h[i] = clif_step(clif, clif_fp, v[i], m[i], x[i], sp);
           s[i] = sp;
         }
         SK_KEEP;
       })},
      {"clif reverse step (Rect surrogate)", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) {
           float gm = g[i];
           g[i] = clif_grad_step<kRect>(clif, clif_fp, h[i], m[i], v[i], x[i], 0.5f * g[i], gm) + gm;
         }
         SK_KEEP;
       })},
      {"fast_expf", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) g[i] = fast_expf(x[i]);
         SK_KEEP;
       })},
      {"division 1 / (1 + x)", seconds(reps, [&] {
         for (int i = 0; i < kRow; ++i) g[i] = 1.0f / (1.0f + x[i]);
         SK_KEEP;
       })},
  };
#undef SK_KEEP
  const double steps = double(reps) * kRow;
  const double lif_ns = rows[0].sec / steps * 1e9;
  for (const Row& r : rows) {
    const double ns = r.sec / steps * 1e9;
    std::printf("%-38s %6.3f ns per neuron-step  (%5.1fx the LIF forward step)\n", r.name, ns, ns / lif_ns);
  }
  return 0;
}
