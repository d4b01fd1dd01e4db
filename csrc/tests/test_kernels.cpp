// C++ unit tests of the neuron math and the CPU kernels, without Python or torch.
// Hand-worked sequences, the vectorisable exp, finite-difference checks of BPTT where the
// neuron is smooth (sub-threshold), and self-consistency of the ILC weight gradient.
#include <cmath>
#include <cstdio>
#include <random>
#include <type_traits>
#include <vector>

#include "cpu/kernels_cpu.h"

using namespace spikekern;
using namespace spikekern::cpu;

static int g_failures = 0;
static int g_checks = 0;
#define CHECK(cond)                                                       \
  do {                                                                    \
    ++g_checks;                                                           \
    if (!(cond)) {                                                        \
      ++g_failures;                                                       \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                     \
  } while (0)
#define CHECK_NEAR(a, b, tol) CHECK(std::fabs(double(a) - double(b)) <= (tol))

static std::vector<double> randn(size_t n, unsigned seed, double scale, double shift) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d(shift, scale);
  std::vector<double> v(n);
  for (auto& e : v) e = d(gen);
  return v;
}

static void test_fast_expf() {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const double ref = std::exp(double(x));
    worst = std::fmax(worst, std::fabs(fast_expf(x) - ref) / ref);
  }
  std::printf("fast_expf worst relative error %.3g\n", worst);
  CHECK(worst <= kFastExpfMaxRelError);
  CHECK(fast_expf(-1000.f) >= 0.f && fast_expf(-1000.f) < 1e-37f);
}

// mul_add fuses exactly where the build says it does (SK_ISA_FMA): (1+2^-13)(1-2^-13) - 1 is
// -2^-26 with one rounding and 0 with two (the product rounds to 1).
static void test_mul_add() {
  volatile float a = 1.0f + 0x1p-13f, b = 1.0f - 0x1p-13f;
#ifdef SK_ISA_FMA
  CHECK(mul_add<float>(a, b, -1.0f) == -0x1p-26f);
#else
  CHECK(mul_add<float>(a, b, -1.0f) == 0.0f);
#endif
}

static void test_surrogates() {
  CHECK_NEAR((surrogate_grad<kQGate, double>(0.0, 2.0)), 2.0, 1e-15);
  CHECK_NEAR((surrogate_grad<kQGate, double>(0.25, 2.0)), 2.0 - 4.0 * 0.25, 1e-15);
  CHECK_NEAR((surrogate_grad<kQGate, double>(-0.6, 2.0)), 0.0, 0.0);
  CHECK_NEAR((surrogate_grad<kRect, double>(0.49, 1.0)), 1.0, 0.0);
  CHECK_NEAR((surrogate_grad<kRect, double>(0.5, 1.0)), 0.0, 0.0);
  CHECK_NEAR((surrogate_grad<kSigmoid, double>(0.0, 4.0)), 1.0, 1e-15);
  CHECK_NEAR((surrogate_grad<kATan, double>(0.0, 2.0)), 1.0, 1e-15);
  CHECK_NEAR((surrogate_grad<kPass, double>(123.0, 2.0)), 1.0, 0.0);
  CHECK_NEAR((surrogate_grad<kSigmoid, float>(0.3f, 4.0f)),
             4.0 / (1 + std::exp(-1.2)) * (1 - 1 / (1 + std::exp(-1.2))), 1e-6);
}

static void test_lif_by_hand() {
  // tau = 2: h = 0.5 v + 0.5 x; v_th 1; hard reset to 0. (Same case as the Python test.)
  const double x[4] = {1.0, 2.0, 3.0, 0.0};
  double s[4], h[4], v[4];
  forward_steps<LifNeuron, double, double, false, true, true>({0.5, 0.5, 0.0}, {1.0, 0.0, 4.0}, x, nullptr, 0.0, 4, 1,
                                                              0, 1, s, h, v);
  const double s_ref[4] = {0, 1, 1, 0}, v_ref[4] = {0.5, 0, 0, 0}, h_ref[4] = {0.5, 1.25, 1.5, 0};
  for (int t = 0; t < 4; ++t) {
    CHECK(s[t] == s_ref[t]);
    CHECK(v[t] == v_ref[t]);
    CHECK(h[t] == h_ref[t]);
  }
}

static void test_cuba_by_hand() {
  const double x[4] = {0.2, 0.2, 0.0, 1.0};
  double s[4], h[4], v[4];
  forward_steps<CubaNeuron, double, double, false, true, true>({0.5, 0.75, 0.0}, {0.5, 0.0, 1.0}, x, nullptr, 0.0, 4,
                                                               1, 0, 1, s, h, v);
  const double s_ref[4] = {0, 0, 0, 1}, v_ref[4] = {0.2, 0.45, 0.4875, 0};
  for (int t = 0; t < 4; ++t) {
    CHECK(s[t] == s_ref[t]);
    CHECK_NEAR(v[t], v_ref[t], 1e-15);
  }
}

// L = sum w_s * s + w_v * v over all steps; sub-threshold (no spikes, rect psi = 0) the
// neuron is linear and dL/dx from BPTT must equal central finite differences.
template <typename Fwd, typename Bwd>
static void check_fd(const char* name, int64_t T, int64_t N, Fwd fwd, Bwd bwd) {
  auto x = randn(T * N, 1, 0.1, -1.0);
  auto wv = randn(T * N, 2, 1.0, 0.0);
  std::vector<double> s(T * N), h(T * N), v(T * N), gx(T * N), gs(T * N, 0.0);
  auto loss = [&](const std::vector<double>& xin) {
    fwd(xin.data(), s.data(), h.data(), v.data());
    double L = 0;
    for (int64_t i = 0; i < T * N; ++i) L += wv[i] * v[i] + 3.0 * s[i];
    return L;
  };
  loss(x);
  for (int64_t i = 0; i < T * N; ++i) CHECK(s[i] == 0.0);
  bwd(gs.data(), wv.data(), h.data(), gx.data());
  double worst = 0;
  for (int64_t i = 0; i < T * N; ++i) {
    auto xp = x, xm = x;
    xp[i] += 1e-6;
    xm[i] -= 1e-6;
    worst = std::fmax(worst, std::fabs((loss(xp) - loss(xm)) / 2e-6 - gx[i]));
  }
  std::printf("%s: finite-difference worst error %.3g\n", name, worst);
  CHECK(worst < 1e-7);
}

static void test_bptt_finite_differences() {
  const int64_t T = 7, N = 5;
  const FireParams<double> p{1.0, 0.0, 1.0};
  const LifCoeffs<double> k{0.6, 0.4, 0.0};
  check_fd("lif", T, N,
           [&](const double* x, double* s, double* h, double* v) {
             forward_steps<LifNeuron, double, double, false, true, true>(k, p, x, nullptr, 0.0, T, N, 0, N, s, h, v);
           },
           [&](const double* gs, const double* gv, const double* h, double* gx) {
             backward_steps<LifNeuron, double, double, kRect, false, false, true>(k, p, gs, gv, h, T, N, 0, N, gx, nullptr);
           });
  const CubaCoeffs<double> c{0.5, 0.75, 0.0};
  check_fd("cuba", T, N,
           [&](const double* x, double* s, double* h, double* v) {
             forward_steps<CubaNeuron, double, double, false, true, true>(c, p, x, nullptr, 0.0, T, N, 0, N, s, h, v);
           },
           [&](const double* gs, const double* gv, const double* h, double* gx) {
             backward_steps<CubaNeuron, double, double, kRect, false, false, true>(c, p, gs, gv, h, T, N, 0, N, gx, nullptr);
           });
}

// Running a neuron range in two pieces (across a block boundary) equals one piece.
static void test_ranges_compose() {
  const int64_t T = 3, N = kBlock + 77;
  auto x = randn(T * N, 3, 1.0, 0.5);
  std::vector<float> xf(x.begin(), x.end()), s1(T * N), s2(T * N), h1(T * N), h2(T * N);
  const LifCoeffs<float> k{0.5f, 0.5f, 0.0f};
  const FireParams<float> p{1.0f, 0.0f, 4.0f};
  forward_steps<LifNeuron, float, float, false, true, false>(k, p, xf.data(), nullptr, 0.f, T, N, 0, N, s1.data(), h1.data(), nullptr);
  forward_steps<LifNeuron, float, float, false, true, false>(k, p, xf.data(), nullptr, 0.f, T, N, 0, 300, s2.data(), h2.data(), nullptr);
  forward_steps<LifNeuron, float, float, false, true, false>(k, p, xf.data(), nullptr, 0.f, T, N, 300, N, s2.data(), h2.data(), nullptr);
  CHECK(s1 == s2);
  CHECK(h1 == h2);
}

// Streaming stores write the same values as plain ones, for ranges that start and end
// anywhere (unaligned heads, ragged tails), in float and in double.
template <typename T>
static void test_streamed_equals_plain() {
  const int64_t Tn = 3, N = kBlock + 77;
  auto x64 = randn(Tn * N, 5, 1.0, 0.5);
  std::vector<T> x(x64.begin(), x64.end()), s1(Tn * N), s2(Tn * N), v1(Tn * N), v2(Tn * N), g1(Tn * N), g2(Tn * N);
  std::vector<T> h1(Tn * N), h2(Tn * N);
  const CubaCoeffs<T> k{T(0.5), T(0.75), T(0)};
  const FireParams<T> p{T(0.5), T(0), T(1)};
  for (int64_t cut : {int64_t(0), int64_t(1), int64_t(13), kBlock + 3}) {
    for (bool stream : {false, true}) {
      auto& s = stream ? s2 : s1;
      auto& h = stream ? h2 : h1;
      auto& v = stream ? v2 : v1;
      auto& g = stream ? g2 : g1;
      forward_steps<CubaNeuron, T, T, false, true, true>(k, p, x.data(), nullptr, T(0), Tn, N, 0, cut, s.data(), h.data(), v.data(), stream);
      forward_steps<CubaNeuron, T, T, false, true, true>(k, p, x.data(), nullptr, T(0), Tn, N, cut, N, s.data(), h.data(), v.data(), stream);
      backward_steps<CubaNeuron, T, T, kRect, false, false, true>(k, p, x.data(), x.data(), h.data(), Tn, N, 0, cut, g.data(), nullptr, stream);
      backward_steps<CubaNeuron, T, T, kRect, false, false, true>(k, p, x.data(), x.data(), h.data(), Tn, N, cut, N, g.data(), nullptr, stream);
    }
    CHECK(s1 == s2);
    CHECK(h1 == h2);
    CHECK(v1 == v2);
    CHECK(g1 == g2);
  }
}

// ILC with W = 0, b = 0 is CUBA-LIF; and dW equals sum_{t>=1} gx[t] (outer) s[t-1].
static void test_ilc() {
  const IlcShape sh{5, 37, 3, 6};
  const int64_t n = sh.T * sh.M * sh.row();
  auto x = randn(n, 4, 0.7, 0.2);
  auto gs = randn(n, 5, 1.0, 0.0);
  const CubaCoeffs<double> k{0.5, 0.75, 0.0};
  const FireParams<double> p{0.5, 0.0, 1.0};
  std::vector<double> W0(sh.A * sh.P * sh.P, 0.0), b0(sh.A * sh.P, 0.0);
  std::vector<double> s_ilc(n), h_ilc(n), s_cuba(n), h_cuba(n), gx_ilc(n), gx_cuba(n);
  for (int64_t blk = 0; blk < sh.num_blocks(); ++blk)
    ilc_cuba_lif_forward_tile<double, double, false, true>(k, p, sh, x.data(), W0.data(), b0.data(), blk, s_ilc.data(), h_ilc.data());
  forward_steps<CubaNeuron, double, double, false, true, false>(k, p, x.data(), nullptr, 0.0, sh.T, n / sh.T, 0, n / sh.T, s_cuba.data(), h_cuba.data(), nullptr);
  CHECK(s_ilc == s_cuba);
  CHECK(h_ilc == h_cuba);

  auto W = randn(sh.A * sh.P * sh.P, 6, 0.4, 0.0);
  auto b = randn(sh.A * sh.P, 7, 0.1, 0.0);
  for (int64_t blk = 0; blk < sh.num_blocks(); ++blk)
    ilc_cuba_lif_forward_tile<double, double, false, true>(k, p, sh, x.data(), W.data(), b.data(), blk, s_ilc.data(), h_ilc.data());
  const int64_t nb = sh.num_blocks(), wsize = sh.A * sh.P * sh.P, bsize = sh.A * sh.P;
  std::vector<double> gWp(nb * wsize), gbp(nb * bsize), gW(wsize), gb(bsize);
  for (int64_t blk = 0; blk < nb; ++blk)
    ilc_cuba_lif_backward_tile<double, double, kRect, false, false>(k, p, sh, gs.data(), h_ilc.data(), W.data(), blk,
                                                            gx_ilc.data(), gWp.data() + blk * wsize, gbp.data() + blk * bsize);
  sum_partials_in_order(gWp.data(), nb, wsize, gW.data());
  sum_partials_in_order(gbp.data(), nb, bsize, gb.data());
  std::vector<double> gW_ref(wsize, 0.0), gb_ref(bsize, 0.0);
  for (int64_t t = 1; t < sh.T; ++t)
    for (int64_t m = 0; m < sh.M; ++m)
      for (int64_t g = 0; g < sh.A; ++g)
        for (int64_t i = 0; i < sh.P; ++i) {
          const double gxi = gx_ilc[(t * sh.M + m) * sh.row() + g * sh.P + i];
          gb_ref[g * sh.P + i] += gxi;
          for (int64_t q = 0; q < sh.P; ++q)
            gW_ref[(g * sh.P + i) * sh.P + q] += gxi * s_ilc[((t - 1) * sh.M + m) * sh.row() + g * sh.P + q];
        }
  for (int64_t i = 0; i < wsize; ++i) CHECK_NEAR(gW[i], gW_ref[i], 1e-10);
  for (int64_t i = 0; i < bsize; ++i) CHECK_NEAR(gb[i], gb_ref[i], 1e-10);
}

// The list the kernels are built from: each type's id runs that type, and no other id runs.
static void test_neuron_list() {
  static_assert(neuron_id<LifNeuron> == 0 && neuron_id<ClifNeuron> == Neurons::size - 1, "ids are list positions");
  static_assert(neuron_id<PlifNeuron<false>> != neuron_id<PlifNeuron<true>>, "each variant has its own id");
  bool lif = false, clif = false, plif_decay = false;
  CHECK(with_neuron(neuron_id<LifNeuron>, [&](auto n) { lif = std::is_same_v<decltype(n), LifNeuron>; }));
  CHECK(with_neuron(neuron_id<ClifNeuron>, [&](auto n) { clif = std::is_same_v<decltype(n), ClifNeuron>; }));
  CHECK(with_neuron(neuron_id<PlifNeuron<true>>,
                    [&](auto n) { plif_decay = std::is_same_v<decltype(n), PlifNeuron<true>>; }));
  CHECK(lif && clif && plif_decay);
  int calls = 0;
  CHECK(!with_neuron(-1, [&](auto) { ++calls; }));
  CHECK(!with_neuron(Neurons::size, [&](auto) { ++calls; }));
  CHECK(calls == 0);
}

int main() {
#if defined(SK_ISA_FMA) && defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("x86-64-v3")) {
    std::printf("skipped: this CPU has no x86-64-v3 (AVX2, FMA), which this build needs\n");
    return 77;
  }
#endif
  test_mul_add();
  test_fast_expf();
  test_surrogates();
  test_lif_by_hand();
  test_cuba_by_hand();
  test_bptt_finite_differences();
  test_ranges_compose();
  test_streamed_equals_plain<float>();
  test_streamed_equals_plain<double>();
  test_ilc();
  test_neuron_list();
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
