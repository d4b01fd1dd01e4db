// Every CUDA kernel of csrc/cuda, executed on the CPU by the execution harness
// (cuda_sim/cuda_sim.h), against the CPU kernels and against the equations of NEURONS.md
// written out below as plain loops.
//
//   test_cuda_sim [--suite all|convert|harness|lif|cuba|plif|clif|ilc] [--expect-failure]
//
// Forward: spikes identical to both, potentials identical to the CPU kernels' (the same
// neuron math, no contraction); gradients within the Python tests' tolerances
// (python_tests/helpers.py: TOL). Inputs are drawn from seeded generators; a failing check
// prints its case and seed. --expect-failure inverts the exit code for the mutant builds
// (CMakeLists.txt), which run a deliberately broken copy of a kernel and must be caught (the
// first failed check ends such a run).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

// The CPU kernels first, so their neuron math is compiled as the CPU build compiles it.
#include "cpu/kernels_cpu.h"
#include "spikekern/dispatch.h"
// The CUDA kernels' plain API; through cuda_sim/include/cuda_runtime_api.h this brings the
// harness's runtime (sk_sim).
#include "cuda/kernels_cuda.h"

namespace cu = spikekern::cuda;
namespace sk = spikekern;

// ------------------------------------------------------------- the neuron ops' launchers
// cu::neuron_forward / neuron_backward called with the arguments each binding gives them
// (cuda/ops_cuda.cpp): one function per op, so each case below reads as the op it tests.
namespace ops {
static sk::NeuronArgs args(int neuron, cu::DType dt, const cu::Fire& f, int64_t T, int64_t N) {
  sk::NeuronArgs a;
  a.neuron = neuron, a.dtype = dt, a.T = T, a.N = N;
  a.v_th = f.v_th, a.v_reset = f.v_reset, a.alpha = f.alpha, a.surrogate = f.surrogate;
  a.soft = f.soft, a.detach = f.detach;
  return a;
}
static cudaError_t lif_forward(cu::DType dt, const void* x, const void* v_init, double ka, double kb, double kc,
                               const cu::Fire& f, int64_t T, int64_t N, void* s, void* h, void* v, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::LifNeuron>, dt, f, T, N);
  a.k0 = ka, a.k1 = kb, a.k2 = kc, a.x = x, a.v_init = v_init, a.s = s, a.h = h, a.v = v;
  return cu::neuron_forward(a, st);
}
static cudaError_t lif_backward(cu::DType dt, const void* gs, const void* gv, const void* h, double ka, double kb,
                                const cu::Fire& f, int64_t T, int64_t N, void* gx, void* gv_init, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::LifNeuron>, dt, f, T, N);
  a.k0 = ka, a.k1 = kb, a.gs = gs, a.gv = gv, a.h_saved = h, a.gx = gx, a.gv_init = gv_init;
  return cu::neuron_backward(a, st);
}
static cudaError_t cuba_lif_forward(cu::DType dt, const void* x, double cd, double vd, const cu::Fire& f, int64_t T,
                                    int64_t N, void* s, void* h, void* v, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::CubaNeuron>, dt, f, T, N);
  a.k0 = cd, a.k1 = vd, a.x = x, a.s = s, a.h = h, a.v = v;
  return cu::neuron_forward(a, st);
}
static cudaError_t cuba_lif_backward(cu::DType dt, const void* gs, const void* gv, const void* h, double cd, double vd,
                                     const cu::Fire& f, int64_t T, int64_t N, void* gx, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::CubaNeuron>, dt, f, T, N);
  a.k0 = cd, a.k1 = vd, a.gs = gs, a.gv = gv, a.h_saved = h, a.gx = gx;
  return cu::neuron_backward(a, st);
}
static cudaError_t plif_forward(cu::DType dt, const void* x, const void* q, bool decay_input, const cu::Fire& f,
                                int64_t T, int64_t N, void* s, void* h, void* v, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::plif_id(decay_input), dt, f, T, N);
  a.q = q, a.x = x, a.s = s, a.h = h, a.v = v;
  return cu::neuron_forward(a, st);
}
static cudaError_t plif_backward(cu::DType dt, const void* gs, const void* gv, const void* h, const void* q,
                                 bool decay_input, const cu::Fire& f, int64_t T, int64_t N, void* gx,
                                 void* parts, void* gq, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::plif_id(decay_input), dt, f, T, N);
  a.q = q, a.gs = gs, a.gv = gv, a.h_saved = h, a.gx = gx, a.param_parts = parts, a.param_grad = gq;
  return cu::neuron_backward(a, st);
}
static cudaError_t clif_forward(cu::DType dt, const void* x, double tau, double v_th, int64_t T, int64_t N, void* s,
                                void* h, void* m, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::ClifNeuron>, dt, cu::Fire{v_th, 0.0, 0.0, sk::kRect, true, false}, T, N);
  a.k0 = tau, a.x = x, a.s = s, a.h = h, a.m = m;
  return cu::neuron_forward(a, st);
}
static cudaError_t clif_backward(cu::DType dt, const void* gs, const void* h, const void* m, double tau,
                                 const cu::Fire& f, int64_t T, int64_t N, void* gx, cudaStream_t st) {
  sk::NeuronArgs a = args(sk::neuron_id<sk::ClifNeuron>, dt, f, T, N);
  a.k0 = tau, a.gs = gs, a.h_saved = h, a.m_saved = m, a.gx = gx;
  return cu::neuron_backward(a, st);
}
}  // namespace ops

// ------------------------------------------------------------------------------ checking
static int g_checks = 0, g_failures = 0;
static std::string g_case;  // the case being run, printed with each failure
static bool g_expect_failure = false;  // a mutant build: its first failed check ends the run

static void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    if (g_failures <= 30) std::fprintf(stderr, "FAILED [%s]: %s\n", g_case.c_str(), what.c_str());
    if (g_expect_failure) {
      std::printf("%d checks, the last failed: the broken kernel was caught\n", g_checks);
      std::fflush(stdout);
      std::exit(0);
    }
  }
}

// ------------------------------------------------------------------------ element types
static double to_double(float v) { return v; }
static double to_double(double v) { return v; }
static double to_double(__half v) { return __half2float(v); }
static double to_double(__nv_bfloat16 v) { return __bfloat162float(v); }

constexpr const char* kTypeName[4] = {"float32", "float64", "float16", "bfloat16"};
constexpr double kTypeTol[4] = {1e-5, 1e-10, 1e-2, 5e-2};

// The I/O dtypes: accumulation type, dtype code, name, the Python tests' tolerance.
template <typename S>
struct Type {
  static constexpr int index = std::is_same_v<S, float> ? 0 : std::is_same_v<S, double> ? 1 : std::is_same_v<S, __half> ? 2 : 3;
  using A = std::conditional_t<index == 1, double, float>;
  static constexpr cu::DType dt = static_cast<cu::DType>(index);  // kernels_cuda.h numbers them in this order
  static constexpr const char* name = kTypeName[index];
  static constexpr double tol = kTypeTol[index];
  static double to(S v) { return to_double(v); }
  static S from(double v) {
    if constexpr (index == 2) return __float2half_rn(static_cast<float>(v));
    else if constexpr (index == 3) return __float2bfloat16_rn(static_cast<float>(v));
    else return static_cast<S>(v);
  }
};

// "Device" memory: exactly n elements (so the address sanitizer sees any access past the
// end), starting `offset` elements into a 64-byte aligned allocation, as torch's are (offset 1 misaligns
// the vector path's pointers). n = 0 is a null pointer, as the bindings pass absent arrays.
template <typename T>
struct Buf {
  struct Free {
    void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t(64)); }
  };
  std::unique_ptr<unsigned char, Free> mem;
  T* p = nullptr;
  int64_t n = 0;
  explicit Buf(int64_t n_ = 0, int64_t offset = 0) : n(n_) {
    if (n == 0) return;
    mem.reset(static_cast<unsigned char*>(::operator new(sizeof(T) * (n + offset), std::align_val_t(64))));
    p = reinterpret_cast<T*>(mem.get()) + offset;
    std::memset(static_cast<void*>(p), 0xFF, sizeof(T) * n);  // NaN where a kernel fails to write
  }
  T& operator[](int64_t i) { return p[i]; }
  const T& operator[](int64_t i) const { return p[i]; }
};

template <typename S>
static Buf<S> random_buf(int64_t n, std::mt19937& gen, double mean, double sd, int64_t offset = 0) {
  Buf<S> b(n, offset);
  std::normal_distribution<double> d(mean, sd);
  for (int64_t i = 0; i < n; ++i) b[i] = Type<S>::from(d(gen));
  return b;
}

template <typename S, typename A = typename Type<S>::A>
static std::vector<A> widen(const Buf<S>& b) {
  std::vector<A> out(b.n);
  for (int64_t i = 0; i < b.n; ++i) out[i] = static_cast<A>(Type<S>::to(b[i]));
  return out;
}

// torch.testing.assert_close as python_tests/helpers.py calls it: |got - want| <= atol +
// tol * |want| with atol = tol * max(1, max |want|); every element finite.
template <typename G, typename W>
static void check_close(const char* what, const G& got, const W& want, int64_t n, double tol) {
  double scale = 1.0;
  for (int64_t i = 0; i < n; ++i) scale = std::fmax(scale, std::fabs(static_cast<double>(want[i])));
  double worst = 0;  // the largest error as a fraction of what is allowed
  int64_t at = -1;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    finite = finite && std::isfinite(g);
    const double ratio = std::fabs(g - w) / (tol * scale + tol * std::fabs(w));
    if (!(ratio <= worst)) worst = ratio, at = i;
  }
  char msg[256];
  std::snprintf(msg, sizeof msg, "%s: worst error %.3g of the tolerance (%.1g) at %lld%s", what, worst, tol,
                static_cast<long long>(at), finite ? "" : ", non-finite values");
  check(finite && worst <= 1.0, msg);
}

template <typename G, typename W>
static void check_equal(const char* what, const G& got, const W& want, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!(static_cast<double>(got[i]) == static_cast<double>(want[i]))) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "%s differ at %lld: %.9g vs %.9g", what, static_cast<long long>(i),
                    static_cast<double>(got[i]), static_cast<double>(want[i]));
      return check(false, msg);
    }
  check(true, what);
}

// ------------------------------------------------------- the equations (NEURONS.md 1, 2, 5)
static const double kAlpha[5] = {2.0, 1.0, 4.0, 2.0, 1.0};  // each surrogate's default alpha
static const char* kSurrogate[5] = {"qgate", "rect", "sigmoid", "atan", "pass"};

static double psi_ref(int kind, double u, double alpha) {
  switch (kind) {
    case sk::kQGate: return std::fabs(u) <= 1.0 / alpha ? alpha - alpha * alpha * std::fabs(u) : 0.0;
    case sk::kRect: return std::fabs(u) < 0.5 / alpha ? alpha : 0.0;
    case sk::kSigmoid: {
      const double sg = 1.0 / (1.0 + std::exp(-alpha * u));
      return alpha * sg * (1.0 - sg);
    }
    case sk::kATan: {
      const double z = M_PI / 2 * alpha * u;
      return alpha / 2 / (1 + z * z);
    }
    default: return 1.0;
  }
}

struct Flavour {
  bool cuba = false;
  double a = 0.5, b = 0.5, c = 0.0;  // LIF: h = a v + b x + c
  double cd = 0.5, vd = 0.75;        // CUBA-LIF
  double v_th = 0.5, v_reset = 0.0;
  int kind = sk::kRect;
  bool soft = false, detach = false;
  double alpha() const { return kAlpha[kind]; }
  double v_decay() const { return cuba ? vd : a; }
  double v_start() const { return soft ? 0.0 : v_reset; }
};

template <typename A>
struct SeqResult {
  std::vector<A> s, h, v, gx, gv_init;
};

// Forward in the accumulation type with the spec's order of operations, so potentials
// round as the kernels' do; backward from the spec's equations.
template <typename A>
static SeqResult<A> seq_reference(const Flavour& f, int64_t T, int64_t N, const std::vector<A>& x, const A* v_init,
                                  const std::vector<A>& gs, const std::vector<A>& gv) {
  SeqResult<A> r;
  r.s.resize(T * N), r.h.resize(T * N), r.v.resize(T * N), r.gx.resize(T * N), r.gv_init.resize(N);
  const A a = A(f.a), b = A(f.b), c = A(f.c), cd = A(f.cd), vd = A(f.vd), th = A(f.v_th), vr = A(f.v_reset);
  for (int64_t n = 0; n < N; ++n) {
    A cur = 0, v = v_init ? v_init[n] : A(f.v_start());
    for (int64_t t = 0; t < T; ++t) {
      const int64_t i = t * N + n;
      A h;
      if (f.cuba) {
        cur = cd * cur + x[i];
        h = vd * v + cur;
      } else {
        h = a * v + b * x[i] + c;
      }
      const A s = h - th >= A(0) ? A(1) : A(0);
      v = f.soft ? h - th * s : h * (A(1) - s) + vr * s;
      r.s[i] = s, r.h[i] = h, r.v[i] = v;
    }
    double g_next = 0, gcur = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t i = t * N + n;
      const double h = r.h[i], u = h - f.v_th, psi = psi_ref(f.kind, u, f.alpha()), s = u >= 0 ? 1.0 : 0.0;
      const double dvdh = f.soft ? (f.detach ? 1.0 : 1.0 - f.v_th * psi)
                                 : (f.detach ? 1.0 - s : (1.0 - s) + (f.v_reset - h) * psi);
      const double gh = gs[i] * psi + ((gv.empty() ? 0.0 : double(gv[i])) + f.v_decay() * g_next) * dvdh;
      gcur = gh + f.cd * gcur;
      r.gx[i] = A(f.cuba ? gcur : f.b * gh);
      g_next = gh;
    }
    r.gv_init[n] = A(f.a * g_next);
  }
  return r;
}

// ------------------------------------------------------------------ LIF and CUBA-LIF cases
struct SeqCase {
  int64_t T, N;
  int64_t misalign;  // elements: x and grad_s start this far past a 16-byte boundary
  bool with_gv, with_v_init, save_v;
};

template <typename S>
static void run_seq_case(const Flavour& f, const SeqCase& c, unsigned seed) {
  using A = typename Type<S>::A;
  const int64_t T = c.T, N = c.N, TN = T * N;
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s %s T=%lld N=%lld misalign=%lld %s %s%s gv=%d v_init=%d save_v=%d seed=%u",
                f.cuba ? "cuba_lif" : "lif", Type<S>::name, static_cast<long long>(T), static_cast<long long>(N),
                static_cast<long long>(c.misalign), kSurrogate[f.kind], f.soft ? "soft" : "hard",
                f.detach ? " detach" : "", c.with_gv, c.with_v_init && !f.cuba, c.save_v, seed);
  g_case = buf;
  std::mt19937 gen(seed);
  const Buf<S> x = random_buf<S>(TN, gen, 0.4, 0.8, c.misalign);
  Buf<A> v_init(c.with_v_init && !f.cuba ? N : 0);
  std::normal_distribution<double> d(0.0, 0.3);
  for (int64_t i = 0; i < v_init.n; ++i) v_init[i] = A(d(gen));
  const Buf<S> gs = random_buf<S>(TN, gen, 0.0, 1.0, c.misalign);
  const Buf<S> gv = random_buf<S>(c.with_gv ? TN : 0, gen, 0.0, 1.0);

  // The CUDA kernels, through the harness.
  const cu::Fire fire{f.v_th, f.v_reset, f.alpha(), f.kind, f.soft, f.detach};
  Buf<S> s(TN), v(c.save_v ? TN : 0), gx(TN);
  Buf<A> h(TN), gv_init(f.cuba ? 0 : N);
  const cudaError_t fe = f.cuba ? ops::cuba_lif_forward(Type<S>::dt, x.p, f.cd, f.vd, fire, T, N, s.p, h.p, v.p, nullptr)
                                : ops::lif_forward(Type<S>::dt, x.p, v_init.p, f.a, f.b, f.c, fire, T, N, s.p, h.p, v.p, nullptr);
  check(fe == cudaSuccess, std::string("forward launch: ") + cudaGetErrorString(fe));
  if (N == 0) return;  // nothing to compare; the launch itself was the check
  // The launcher chose the vector path exactly where it may (N a multiple of the pack,
  // every pointer aligned): the grid size tells.
  const int64_t pack = 16 / sizeof(S), V = (N % pack == 0 && c.misalign == 0) ? pack : 1;
  const unsigned threads = sk_sim::last_launch().block.x;
  check(sk_sim::last_launch().grid.x == unsigned((N / V + threads - 1) / threads),
        "forward grid size says the wrong vector width was used");
  const cudaError_t be = f.cuba ? ops::cuba_lif_backward(Type<S>::dt, gs.p, gv.p, h.p, f.cd, f.vd, fire, T, N, gx.p, nullptr)
                                : ops::lif_backward(Type<S>::dt, gs.p, gv.p, h.p, f.a, f.b, fire, T, N, gx.p, gv_init.p, nullptr);
  check(be == cudaSuccess, std::string("backward launch: ") + cudaGetErrorString(be));

  // The CPU kernels, on the same inputs widened to the accumulation type.
  const std::vector<A> xa = widen(x), gsa = widen(gs), gva = widen(gv);
  std::vector<A> s_cpu(TN), h_cpu(TN), v_cpu(TN), gx_cpu(TN), gvi_cpu(N);
  sk::with_reset(f.soft, [&](auto SOFT) {
    if (f.cuba)
      sk::cpu::forward_steps<sk::CubaNeuron, A, A, SOFT.value, true, true>(
          {A(f.cd), A(f.vd), A(f.v_start())}, {A(f.v_th), A(f.v_reset), A(f.alpha())}, xa.data(), nullptr,
          A(f.v_start()), T, N, 0, N, s_cpu.data(), h_cpu.data(), v_cpu.data());
    else
      sk::cpu::forward_steps<sk::LifNeuron, A, A, SOFT.value, true, true>(
          {A(f.a), A(f.b), A(f.c)}, {A(f.v_th), A(f.v_reset), A(f.alpha())}, xa.data(), v_init.p, A(f.v_start()), T,
          N, 0, N, s_cpu.data(), h_cpu.data(), v_cpu.data());
  });
  const std::vector<A> h_for_bwd(h.p, h.p + TN);  // the backward reads the CUDA forward's h, as the CUDA one did
  sk::with_flavour(f.kind, f.soft, f.detach, [&](auto KIND, auto SOFT, auto DETACH) {
    sk::with_bool(c.with_gv, [&](auto GV) {
      const sk::FireParams<A> p{A(f.v_th), A(f.v_reset), A(f.alpha())};
      if (f.cuba)
        sk::cpu::backward_steps<sk::CubaNeuron, A, A, KIND.value, SOFT.value, DETACH.value, GV.value>(
            {A(f.cd), A(f.vd), A(0)}, p, gsa.data(), GV.value ? gva.data() : nullptr, h_for_bwd.data(), T, N, 0, N,
            gx_cpu.data(), nullptr);
      else
        sk::cpu::backward_steps<sk::LifNeuron, A, A, KIND.value, SOFT.value, DETACH.value, GV.value>(
            {A(f.a), A(f.b), A(0)}, p, gsa.data(), GV.value ? gva.data() : nullptr, h_for_bwd.data(), T, N, 0, N,
            gx_cpu.data(), gvi_cpu.data());
    });
  });
  const SeqResult<A> ref = seq_reference(f, T, N, xa, v_init.p, gsa, gva);

  const double tol = Type<S>::tol;
  check_equal("spikes vs CPU kernel", widen(s), s_cpu, TN);
  check_equal("spikes vs equations", widen(s), ref.s, TN);
  check_equal("h vs CPU kernel", h.p, h_cpu, TN);
  check_close("h vs equations", h.p, ref.h, TN, Type<A>::tol);
  if (c.save_v) {
    std::vector<A> v_cpu_s(TN);
    for (int64_t i = 0; i < TN; ++i) v_cpu_s[i] = A(Type<S>::to(Type<S>::from(v_cpu[i])));
    check_equal("v vs CPU kernel", widen(v), v_cpu_s, TN);
  }
  check_close("grad_x vs CPU kernel", widen(gx), gx_cpu, TN, tol);
  check_close("grad_x vs equations", widen(gx), ref.gx, TN, tol);
  if (!f.cuba) {
    check_close("grad_v_init vs CPU kernel", gv_init.p, gvi_cpu, N, Type<A>::tol);
    check_close("grad_v_init vs equations", gv_init.p, ref.gv_init, N, Type<A>::tol);
  }
}

template <typename S>
static void seq_suite(bool cuba, bool all_flavours) {
  const SeqCase cases[] = {
      {1, 1024, 0, false, true, true},   // T = 1, vector path
      {5, 1027, 0, true, true, true},    // N not a multiple of the pack: scalar path
      {3, 4096, 0, true, false, true},   // several blocks, vector path
      {4, 1024, 1, true, true, false},   // misaligned input: scalar fallback
      {7, 3, 0, false, true, true},      // fewer neurons than a pack
      {6, 2056, 0, true, true, true},    // vector path with a ragged last block
      {4, 0, 0, true, true, true},       // a zero-size batch
  };
  unsigned seed = cuba ? 5000 : 1000;
  for (int kind = 0; kind < 5; ++kind)
    for (int soft = 0; soft < 2; ++soft)
      for (int detach = 0; detach < 2; ++detach) {
        if (!all_flavours && (soft + detach + kind) % 2) continue;  // half the flavours for the narrow dtypes
        if (!sk::flavour_compiled(kind, soft, detach)) continue;
        Flavour f;
        f.cuba = cuba, f.kind = kind, f.soft = soft, f.detach = detach;
        f.v_reset = soft ? 0.0 : -0.1;
        // LIF: SpikingJelly's decay_input=True with tau = 2 (c = v_reset/tau), and IF-like
        // decay_input=False for the soft reset.
        f.a = 0.5, f.b = soft ? 1.0 : 0.5, f.c = soft ? 0.0 : f.v_reset / 2;
        for (const SeqCase& c : cases) run_seq_case<S>(f, c, ++seed);
      }
}

// ---------------------------------------------------------------------------------- PLIF
// NEURONS.md 10: the CUDA kernels against the CPU kernels (spikes and h identical, grad_x and
// the parameter's gradient within tolerance) and against dL/dq summed from the equations.
template <typename S>
static void run_plif_case(int kind, bool soft, bool detach, bool decay_input, int64_t T, int64_t N, int64_t misalign,
                          bool with_gv, unsigned seed) {
  using A = typename Type<S>::A;
  const int64_t TN = T * N;
  char buf[256];
  std::snprintf(buf, sizeof buf, "plif %s T=%lld N=%lld misalign=%lld %s %s%s decay_input=%d gv=%d seed=%u",
                Type<S>::name, static_cast<long long>(T), static_cast<long long>(N),
                static_cast<long long>(misalign), kSurrogate[kind], soft ? "soft" : "hard", detach ? " detach" : "",
                decay_input, with_gv, seed);
  g_case = buf;
  std::mt19937 gen(seed);
  const Buf<S> x = random_buf<S>(TN, gen, 0.4, 0.8, misalign);
  const Buf<S> gs = random_buf<S>(TN, gen, 0.0, 1.0, misalign);
  const Buf<S> gv = random_buf<S>(with_gv ? TN : 0, gen, 0.0, 1.0);
  const double v_th = 0.5, v_reset = soft ? 0.0 : -0.1, alpha = kAlpha[kind];
  Buf<A> q(1);
  q[0] = A(0.3);  // 1/tau
  const cu::Fire fire{v_th, v_reset, alpha, kind, soft, detach};
  Buf<S> s(TN), gx(TN);
  Buf<A> h(TN), gq(1);
  Buf<double> parts(cu::neuron_param_blocks(N));
  Buf<S> no_v(0);
  const cudaError_t fe = ops::plif_forward(Type<S>::dt, x.p, q.p, decay_input, fire, T, N, s.p, h.p, no_v.p, nullptr);
  check(fe == cudaSuccess, std::string("forward launch: ") + cudaGetErrorString(fe));
  const cudaError_t be = ops::plif_backward(Type<S>::dt, gs.p, gv.p, h.p, q.p, decay_input, fire, T, N, gx.p,
                                           parts.p, gq.p, nullptr);
  check(be == cudaSuccess, std::string("backward launch: ") + cudaGetErrorString(be));
  if (N == 0) {
    check(gq[0] == A(0), "a zero-size batch's parameter gradient is 0");
    return;
  }
  const std::vector<A> xa = widen(x), gsa = widen(gs), gva = widen(gv);
  std::vector<A> s_cpu(TN), h_cpu(TN), v_cpu(TN), gx_cpu(TN);
  const int64_t blocks = (N + sk::cpu::kBlock - 1) / sk::cpu::kBlock;
  std::vector<double> parts_cpu(blocks);
  const A v_r = soft ? A(0) : A(v_reset);
  const sk::FireParams<A> p{A(v_th), A(v_reset), A(alpha)};
  const sk::PlifCoeffs<A> k{q.p, v_r, A(0)};
  sk::with_bool(decay_input, [&](auto DECAY) {
    using Neuron = sk::PlifNeuron<DECAY.value>;
    sk::with_reset(soft, [&](auto SOFT) {
      sk::cpu::forward_steps<Neuron, A, A, SOFT.value, true, true>(k, p, xa.data(), nullptr, v_r, T, N, 0, N,
                                                                  s_cpu.data(), h_cpu.data(), v_cpu.data());
    });
    sk::with_flavour(kind, soft, detach, [&](auto KIND, auto SOFT, auto DETACH) {
      sk::with_bool(with_gv, [&](auto GV) {
        sk::cpu::backward_steps<Neuron, A, A, KIND.value, SOFT.value, DETACH.value, GV.value>(
            k, p, gsa.data(), GV.value ? gva.data() : nullptr, h.p, T, N, 0, N, gx_cpu.data(), nullptr, false,
            v_r, parts_cpu.data());
      });
    });
  });
  double gq_sum = 0;
  sk::cpu::sum_partials_in_order(parts_cpu.data(), blocks, 1, &gq_sum);
  const A gq_cpu = A(gq_sum);
  // dL/dq from the equations, in double: gh by BPTT, times dh/dq.
  double gq_ref = 0;
  const double qd = double(q[0]);
  for (int64_t n = 0; n < N; ++n) {
    double g_next = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t i = t * N + n;
      const double hh = h.p[i], u = hh - v_th, psi = psi_ref(kind, u, alpha), sp = u >= 0 ? 1.0 : 0.0;
      const double dvdh = soft ? (detach ? 1.0 : 1.0 - v_th * psi) : (detach ? 1.0 - sp : (1.0 - sp) + (v_reset - hh) * psi);
      const double gh = double(gsa[i]) * psi + ((with_gv ? double(gva[i]) : 0.0) + (1.0 - qd) * g_next) * dvdh;
      double v_prev = double(v_r);
      if (t > 0) {
        const double hp = h.p[i - N];
        v_prev = hp - v_th >= 0 ? (soft ? hp - v_th : v_reset) : hp;
      }
      gq_ref += gh * (decay_input ? double(xa[i]) - (v_prev - double(v_r)) : -(v_prev - double(v_r)));
      g_next = gh;
    }
  }
  const double tol = Type<S>::tol;
  check_equal("spikes vs CPU kernel", widen(s), s_cpu, TN);
  check_equal("h vs CPU kernel", h.p, h_cpu, TN);
  check_close("grad_x vs CPU kernel", widen(gx), gx_cpu, TN, tol);
  const std::vector<A> gq_cpu_v{gq_cpu};
  const std::vector<double> gq_ref_v{gq_ref};
  check_close("grad_q vs CPU kernel", gq.p, gq_cpu_v, 1, Type<A>::tol);
  check_close("grad_q vs equations", gq.p, gq_ref_v, 1, tol);
}

template <typename S>
static void plif_suite(bool all_flavours) {
  struct Case { int64_t T, N, misalign; bool gv; };
  const Case cases[] = {{1, 1024, 0, false}, {5, 1027, 0, true}, {3, 4096, 1, true}, {7, 3, 0, false},
                        {4, 0, 0, true}};
  unsigned seed = 9000;
  for (int kind = 0; kind < 5; ++kind)
    for (int soft = 0; soft < 2; ++soft)
      for (int detach = 0; detach < 2; ++detach)
        for (int decay = 0; decay < 2; ++decay) {
          if (!all_flavours && (soft + detach + kind + decay) % 2) continue;
          if (!sk::flavour_compiled(kind, soft, detach)) continue;
          for (const Case& c : cases) run_plif_case<S>(kind, soft, detach, decay, c.T, c.N, c.misalign, c.gv, ++seed);
        }
}

// ---------------------------------------------------------------------------------- CLIF
// NEURONS.md 9: the CUDA kernels against the CPU kernels: spikes identical, h, m and grad_x within
// tolerance (the same neuron math, clif_step, but its sigmoid's exp is the device's expf on the GPU
// and fast_expf on the CPU, which may differ in the last bit).
template <typename S>
static void run_clif_case(int kind, int64_t T, int64_t N, int64_t misalign, unsigned seed) {
  using A = typename Type<S>::A;
  const int64_t TN = T * N;
  char buf[256];
  std::snprintf(buf, sizeof buf, "clif %s T=%lld N=%lld misalign=%lld %s seed=%u", Type<S>::name,
                static_cast<long long>(T), static_cast<long long>(N), static_cast<long long>(misalign),
                kSurrogate[kind], seed);
  g_case = buf;
  std::mt19937 gen(seed);
  const Buf<S> x = random_buf<S>(TN, gen, 0.4, 1.2, misalign);
  const Buf<S> gs = random_buf<S>(TN, gen, 0.0, 1.0, misalign);
  const double tau = 2.5, v_th = 0.8, alpha = kAlpha[kind];
  const cu::Fire fire{v_th, 0.0, alpha, kind, true, false};
  Buf<S> s(TN), gx(TN);
  Buf<A> h(TN), m(TN);
  const cudaError_t fe = ops::clif_forward(Type<S>::dt, x.p, tau, v_th, T, N, s.p, h.p, m.p, nullptr);
  check(fe == cudaSuccess, std::string("forward launch: ") + cudaGetErrorString(fe));
  const cudaError_t be = ops::clif_backward(Type<S>::dt, gs.p, h.p, m.p, tau, fire, T, N, gx.p, nullptr);
  check(be == cudaSuccess, std::string("backward launch: ") + cudaGetErrorString(be));
  if (N == 0) return;
  const std::vector<A> xa = widen(x), gsa = widen(gs);
  std::vector<A> s_cpu(TN), h_cpu(TN), m_cpu(TN), gx_cpu(TN);
  const sk::ClifCoeffs<A> k{A(tau), A(1.0 / tau)};
  const sk::FireParams<A> p{A(v_th), A(0), A(alpha)};
  sk::cpu::forward_steps<sk::ClifNeuron, A, A, true, true, false>(k, p, xa.data(), nullptr, A(0), T, N, 0, N,
                                                                  s_cpu.data(), h_cpu.data(), nullptr, false,
                                                                  m_cpu.data());
  sk::with_kind(kind, [&](auto KIND) {
    sk::cpu::backward_steps<sk::ClifNeuron, A, A, KIND.value, true, false, false>(
        k, p, gsa.data(), nullptr, h.p, T, N, 0, N, gx_cpu.data(), nullptr, false, A(0), nullptr, m.p);
  });
  check_equal("spikes vs CPU kernel", widen(s), s_cpu, TN);
  check_close("h vs CPU kernel", h.p, h_cpu, TN, Type<A>::tol);
  check_close("m vs CPU kernel", m.p, m_cpu, TN, Type<A>::tol);
  check_close("grad_x vs CPU kernel", widen(gx), gx_cpu, TN, Type<S>::tol);
}

template <typename S>
static void clif_suite(bool all_surrogates) {
  struct Case { int64_t T, N, misalign; };
  const Case cases[] = {{1, 1024, 0}, {5, 1027, 0}, {3, 4096, 1}, {7, 3, 0}, {4, 0, 0}};
  unsigned seed = 9500;
  for (int kind = 0; kind < 5; ++kind) {
    if ((!all_surrogates && kind % 2) || !sk::flavour_compiled(kind, sk::kOneFlavourSoft, sk::kOneFlavourDetach))
      continue;
    for (const Case& c : cases) run_clif_case<S>(kind, c.T, c.N, c.misalign, ++seed);
  }
}

// -------------------------------------------------------------------------- ILC-CUBA-LIF
template <typename A>
struct IlcResult {
  std::vector<A> s, h, gx, gW, gb;
};

// NEURONS.md 3, as written: x'[t] = x[t] + W_g s_g[t-1] + b_g, then CUBA-LIF.
template <typename A>
static IlcResult<A> ilc_reference(const Flavour& f, int64_t T, int64_t M, int64_t G, int64_t P, const std::vector<A>& x,
                                  const std::vector<A>& W, const std::vector<A>& bias, const std::vector<A>& gs) {
  const int64_t row = G * P, n = T * M * row;
  IlcResult<A> r;
  r.s.assign(n, 0), r.h.assign(n, 0), r.gx.assign(n, 0), r.gW.assign(G * P * P, 0), r.gb.assign(G * P, 0);
  const A cd = A(f.cd), vd = A(f.vd), th = A(f.v_th), vr = A(f.v_reset);
  auto at = [&](int64_t t, int64_t m, int64_t g, int64_t p) { return (t * M + m) * row + g * P + p; };
  std::vector<double> gdW(G * P * P, 0.0), gdb(G * P, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t g = 0; g < G; ++g) {
      std::vector<A> cur(P, 0), v(P, A(f.v_start()));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t p = 0; p < P; ++p) {
          A xin = x[at(t, m, g, p)];
          if (t > 0) {
            A lat = 0;
            for (int64_t q = 0; q < P; ++q) lat = lat + W[(g * P + p) * P + q] * r.s[at(t - 1, m, g, q)];
            xin = xin + (lat + bias[g * P + p]);
          }
          cur[p] = cd * cur[p] + xin;
          const A h = vd * v[p] + cur[p];
          const A s = h - th >= A(0) ? A(1) : A(0);
          v[p] = f.soft ? h - th * s : h * (A(1) - s) + vr * s;
          r.s[at(t, m, g, p)] = s, r.h[at(t, m, g, p)] = h;
        }
      // Backward: gs_total[t] = gs[t] + W^T gx'[t+1]; gh, gcur as CUBA-LIF.
      std::vector<double> g_next(P, 0.0), gcur(P, 0.0), gx_next(P, 0.0);
      for (int64_t t = T - 1; t >= 0; --t) {
        std::vector<double> gx_t(P);
        for (int64_t p = 0; p < P; ++p) {
          double gtot = gs[at(t, m, g, p)];
          if (t + 1 < T)
            for (int64_t i = 0; i < P; ++i) gtot += double(W[(g * P + i) * P + p]) * gx_next[i];
          const double h = r.h[at(t, m, g, p)], u = h - f.v_th, psi = psi_ref(f.kind, u, f.alpha()), s = u >= 0;
          const double dvdh = f.soft ? (f.detach ? 1.0 : 1.0 - f.v_th * psi)
                                     : (f.detach ? 1.0 - s : (1.0 - s) + (f.v_reset - h) * psi);
          const double gh = gtot * psi + f.vd * g_next[p] * dvdh;
          g_next[p] = gh;
          gcur[p] = gh + f.cd * gcur[p];
          gx_t[p] = gcur[p];
          r.gx[at(t, m, g, p)] = A(gcur[p]);
        }
        if (t >= 1)
          for (int64_t i = 0; i < P; ++i) {
            gdb[g * P + i] += gx_t[i];
            for (int64_t q = 0; q < P; ++q) gdW[(g * P + i) * P + q] += gx_t[i] * r.s[at(t - 1, m, g, q)];
          }
        gx_next = gx_t;
      }
    }
  for (size_t i = 0; i < gdW.size(); ++i) r.gW[i] = A(gdW[i]);
  for (size_t i = 0; i < gdb.size(); ++i) r.gb[i] = A(gdb[i]);
  return r;
}

struct IlcCase {
  int64_t T, M, G, P;
};

template <typename S>
static void run_ilc_case(const Flavour& f, const IlcCase& c, unsigned seed) {
  using A = typename Type<S>::A;
  const int64_t T = c.T, M = c.M, G = c.G, P = c.P, n = T * M * G * P;
  char buf[320];
  std::snprintf(buf, sizeof buf, "ilc_cuba_lif %s T=%lld M=%lld A=%lld P=%lld %s %s%s seed=%u", Type<S>::name,
                static_cast<long long>(T), static_cast<long long>(M), static_cast<long long>(G),
                static_cast<long long>(P), kSurrogate[f.kind], f.soft ? "soft" : "hard", f.detach ? " detach" : "", seed);
  g_case = buf;
  std::mt19937 gen(seed);
  const Buf<S> x = random_buf<S>(n, gen, 0.3, 0.6);
  const Buf<A> W = random_buf<A>(G * P * P, gen, 0.0, 0.5), bias = random_buf<A>(G * P, gen, 0.0, 0.2);
  const Buf<S> gs = random_buf<S>(n, gen, 0.0, 1.0);
  const cu::Fire fire{f.v_th, f.v_reset, f.alpha(), f.kind, f.soft, f.detach};
  const int64_t tiles = cu::ilc_tiles(M, P);
  Buf<S> s(n), gx(n);
  Buf<A> h(n), gWp(tiles * G * P * P), gbp(tiles * G * P), gW(G * P * P), gb(G * P);
  const cudaError_t fe = cu::ilc_cuba_lif_forward(Type<S>::dt, x.p, W.p, bias.p, f.cd, f.vd, fire, T, M, G, P, s.p, h.p, nullptr);
  check(fe == cudaSuccess, std::string("forward launch: ") + cudaGetErrorString(fe));
  const cudaError_t be = cu::ilc_cuba_lif_backward(Type<S>::dt, gs.p, h.p, W.p, f.cd, f.vd, fire, T, M, G, P, gx.p, gWp.p,
                                                   gbp.p, gW.p, gb.p, nullptr);
  check(be == cudaSuccess, std::string("backward launch: ") + cudaGetErrorString(be));
  const std::vector<A> xa = widen(x), gsa = widen(gs), Wa(W.p, W.p + W.n), ba(bias.p, bias.p + bias.n);
  if (M == 0) {  // a zero-size batch: no gradient for the weights
    check_equal("weight gradient of an empty batch", gW.p, std::vector<A>(G * P * P, A(0)), G * P * P);
    check_equal("bias gradient of an empty batch", gb.p, std::vector<A>(G * P, A(0)), G * P);
    return;
  }

  // The CPU kernels.
  const sk::cpu::IlcShape sh{T, M, G, P};
  const int64_t nb = sh.num_blocks(), wsize = G * P * P, bsize = G * P;
  std::vector<A> s_cpu(n), h_cpu(n), gx_cpu(n), gWp_cpu(nb * wsize), gbp_cpu(nb * bsize), gW_cpu(wsize), gb_cpu(bsize);
  const sk::CubaCoeffs<A> k{A(f.cd), A(f.vd), A(f.v_start())};
  const sk::FireParams<A> p{A(f.v_th), A(f.v_reset), A(f.alpha())};
  const std::vector<A> h_for_bwd(h.p, h.p + n);
  sk::with_reset(f.soft, [&](auto SOFT) {
    for (int64_t blk = 0; blk < nb; ++blk)
      sk::cpu::ilc_cuba_lif_forward_tile<A, A, SOFT.value, true>(k, p, sh, xa.data(), Wa.data(), ba.data(), blk,
                                                                s_cpu.data(), h_cpu.data());
  });
  sk::with_flavour(f.kind, f.soft, f.detach, [&](auto KIND, auto SOFT, auto DETACH) {
    for (int64_t blk = 0; blk < nb; ++blk)
      sk::cpu::ilc_cuba_lif_backward_tile<A, A, KIND.value, SOFT.value, DETACH.value>(
          k, p, sh, gsa.data(), h_for_bwd.data(), Wa.data(), blk, gx_cpu.data(), gWp_cpu.data() + blk * wsize,
          gbp_cpu.data() + blk * bsize);
  });
  sk::cpu::sum_partials_in_order(gWp_cpu.data(), nb, wsize, gW_cpu.data());
  sk::cpu::sum_partials_in_order(gbp_cpu.data(), nb, bsize, gb_cpu.data());
  const IlcResult<A> ref = ilc_reference(f, T, M, G, P, xa, Wa, ba, gsa);

  const double tol = Type<S>::tol;
  check_equal("spikes vs CPU kernel", widen(s), s_cpu, n);
  check_equal("spikes vs equations", widen(s), ref.s, n);
  check_equal("h vs CPU kernel", h.p, h_cpu, n);
  check_close("h vs equations", h.p, ref.h, n, Type<A>::tol);
  check_close("grad_x vs CPU kernel", widen(gx), gx_cpu, n, tol);
  check_close("grad_x vs equations", widen(gx), ref.gx, n, tol);
  // Weight gradients sum over the batch: scale the tolerance with the number of terms.
  const double wtol = Type<A>::tol * double(T * M);
  check_close("grad_W vs CPU kernel", gW.p, gW_cpu, wsize, wtol);
  check_close("grad_W vs equations", gW.p, ref.gW, wsize, wtol);
  check_close("grad_b vs CPU kernel", gb.p, gb_cpu, bsize, wtol);
  check_close("grad_b vs equations", gb.p, ref.gb, bsize, wtol);
}

template <typename S>
static void ilc_suite(bool all_flavours) {
  const IlcCase cases[] = {
      {5, 100, 6, 10},  // the ILC-SAN size: 25 samples per block, 4 blocks per group
      {1, 3, 2, 5},     // T = 1: no lateral input at all
      {4, 37, 3, 37},   // odd P: 6 samples (222 threads) per block, 7 blocks per group
      {3, 9, 2, 64},    // the largest P (float64: 70 KiB of shared memory, past the 48 KiB default)
      {2, 300, 1, 1},   // P = 1: 256 samples per block
      {3, 0, 2, 4},     // a zero-size batch
  };
  const sk_sim::Order orders[] = {sk_sim::Order::kShuffled, sk_sim::Order::kForward, sk_sim::Order::kReverse};
  unsigned seed = 9000;
  int i = 0;
  for (int kind = 0; kind < 5; ++kind)
    for (int soft = 0; soft < 2; ++soft)
      for (int detach = 0; detach < 2; ++detach) {
        if (!all_flavours && (soft + detach + kind) % 2) continue;
        if (!sk::flavour_compiled(kind, soft, detach)) continue;
        Flavour f;
        f.cuba = true, f.kind = kind, f.soft = soft, f.detach = detach;
        f.v_reset = soft ? 0.0 : -0.1;
        for (const IlcCase& c : cases) {
          sk_sim::set_schedule(orders[i++ % 3], seed);
          run_ilc_case<S>(f, c, ++seed);
        }
      }
  sk_sim::set_schedule(sk_sim::Order::kShuffled, 1);
}

// ------------------------------------------------------------ the harness's own behaviour
// Half and bfloat16 conversions against the compiler's _Float16 (every half value, and
// floats around every rounding boundary) and an independent bfloat16 rounding.
static void convert_suite() {
  g_case = "half and bfloat16 conversions";
  int64_t bad = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    _Float16 hf;
    const uint16_t b16 = static_cast<uint16_t>(b);
    std::memcpy(&hf, &b16, 2);
    const float want = static_cast<float>(hf), got = __half2float(__half{b16});
    bad += !(got == want || (std::isnan(got) && std::isnan(want)));
  }
  check(bad == 0, "half -> float differs from _Float16 for " + std::to_string(bad) + " values");
  std::mt19937 gen(7);
  bad = 0;
  int64_t bad_bf = 0;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = gen();
    if (i % 4 == 0) bits = (bits & 0x8000e000u) | (uint32_t(102 + gen() % 40) << 23) | 0x1000u;  // ties, subnormals
    const float f = sk_sim_bits_to_float(bits);
    const _Float16 want = static_cast<_Float16>(f);
    const float wf = static_cast<float>(want), gf = __half2float(__float2half_rn(f));
    bad += !(gf == wf || (std::isnan(gf) && std::isnan(wf)));
    // bfloat16: the nearest of the two neighbours (truncation and one ulp up), ties to even.
    if (!std::isnan(f)) {
      const uint32_t lo = bits & 0xffff0000u, hi = lo + 0x10000u;
      // (Past the largest finite value, "one ulp up" is 2^128, and rounding there gives inf.)
      const double up = std::isinf(sk_sim_bits_to_float(hi)) ? std::copysign(std::ldexp(1.0, 128), f) : sk_sim_bits_to_float(hi);
      const double dlo = std::fabs(double(sk_sim_bits_to_float(lo)) - f);
      const double dhi = std::isinf(sk_sim_bits_to_float(lo)) ? INFINITY : std::fabs(up - f);
      const uint32_t pick = dlo < dhi ? lo : dhi < dlo ? hi : ((lo >> 16) & 1u) ? hi : lo;
      bad_bf += __float2bfloat16_rn(f).__x != (pick >> 16);
    }
  }
  check(bad == 0, "float -> half differs from _Float16 for " + std::to_string(bad) + " values");
  check(bad_bf == 0, "float -> bfloat16 differs from round-to-nearest-even for " + std::to_string(bad_bf) + " values");
  check(std::isnan(__half2float(__float2half_rn(NAN))) && std::isnan(__bfloat162float(__float2bfloat16_rn(NAN))),
        "NaN survives conversion");
}

// Test-only kernels (plain functions: the harness launches any void function).
static void divergent_barrier_kernel(int* out) {
  if (threadIdx.x == 0) return;  // thread 0 leaves while the others wait below
  __syncthreads();
  out[threadIdx.x] = 1;
}
static void shared_sum_kernel(int* out) {
  int* sh = reinterpret_cast<int*>(cu::sk_dynamic_shared);
  sh[threadIdx.x] = int(threadIdx.x);
  __syncthreads();
  int total = 0;
  for (unsigned i = 0; i < blockDim.x; ++i) total += sh[i];
  out[blockIdx.x * blockDim.x + threadIdx.x] = total;
}

template <typename K, typename... Args>
static cudaError_t sim_launch(K* kernel, dim3 grid, dim3 block, size_t smem, Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid, cfg.blockDim = block, cfg.dynamicSmemBytes = smem;
  return cudaLaunchKernelEx(&cfg, kernel, args...);
}

static void harness_suite() {
  g_case = "harness";
  std::vector<int> out(4 * 128, -1);
  check(sim_launch(shared_sum_kernel, dim3(4), dim3(128), 128 * sizeof(int), out.data()) == cudaSuccess &&
            std::count(out.begin(), out.end(), 127 * 128 / 2) == int64_t(out.size()),
        "a barrier makes every thread's shared-memory write visible to the block");
  check(sim_launch(divergent_barrier_kernel, dim3(1), dim3(32), 0, out.data()) == cudaErrorLaunchFailure,
        "a thread returning while others wait at __syncthreads fails the launch");
  check(sim_launch(shared_sum_kernel, dim3(0), dim3(32), 0, out.data()) == cudaErrorInvalidConfiguration,
        "an empty grid is an invalid configuration");
  check(sim_launch(shared_sum_kernel, dim3(1, 70000), dim3(32), 0, out.data()) == cudaErrorInvalidConfiguration,
        "gridDim.y is at most 65535");
  check(sim_launch(shared_sum_kernel, dim3(1), dim3(1025), 0, out.data()) == cudaErrorInvalidConfiguration,
        "a block has at most 1024 threads");
  check(sim_launch(shared_sum_kernel, dim3(1), dim3(32), 49 * 1024, out.data()) == cudaErrorInvalidValue,
        "more than 48 KiB of dynamic shared memory needs cudaFuncSetAttribute");
  check(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess,
        "cudaGetLastError returns the last error once");
  check(cudaFuncSetAttribute(shared_sum_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 49 * 1024) == cudaSuccess &&
            sim_launch(shared_sum_kernel, dim3(1), dim3(32), 49 * 1024, out.data()) == cudaSuccess,
        "after opting in, a 49 KiB launch runs");
  // The ILC kernels refuse populations they cannot hold.
  const cu::Fire fire{0.5, 0.0, 1.0, sk::kRect, false, false};
  check(cu::ilc_cuba_lif_forward(cu::DType::kFloat, out.data(), out.data(), out.data(), 0.5, 0.75, fire, 1, 1, 1,
                                 cu::kIlcMaxPop + 1, out.data(), nullptr, nullptr) == cudaErrorInvalidValue,
        "ILC with P > kIlcMaxPop is refused");
}

// --------------------------------------------------------------------------------- main
int main(int argc, char** argv) {
  std::string suite = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--suite" && i + 1 < argc) suite = argv[++i];
    else if (a == "--expect-failure") g_expect_failure = true;
    else {
      std::fprintf(stderr, "usage: %s [--suite all|convert|harness|lif|cuba|plif|clif|ilc] [--expect-failure]\n", argv[0]);
      return 2;
    }
  }
  auto want = [&](const char* s) { return suite == "all" || suite == s; };
  if (want("convert")) convert_suite();
  if (want("harness")) harness_suite();
  for (bool cuba : {false, true})
    if (want(cuba ? "cuba" : "lif")) {
      seq_suite<float>(cuba, true);
      seq_suite<double>(cuba, true);
      seq_suite<__half>(cuba, false);
      seq_suite<__nv_bfloat16>(cuba, false);
    }
  if (want("plif")) {
    plif_suite<float>(true);
    plif_suite<double>(false);
    plif_suite<__half>(false);
  }
  if (want("clif")) {
    clif_suite<float>(true);
    clif_suite<double>(false);
    clif_suite<__half>(false);
  }
  if (want("ilc")) {
    ilc_suite<float>(true);
    ilc_suite<double>(false);
    ilc_suite<__half>(false);
    ilc_suite<__nv_bfloat16>(false);
  }
  check(g_checks > 0, "no check ran");
#ifdef SK_ONE_FLAVOUR
  std::printf("one flavour compiled (SK_ONE_FLAVOUR): %s surrogate, %s reset, %s\n", kSurrogate[sk::kOneFlavourKind],
              sk::kOneFlavourSoft ? "soft" : "hard", sk::kOneFlavourDetach ? "detached" : "attached");
#endif
  std::printf("%d checks, %d failed (suite %s)\n", g_checks, g_failures, suite.c_str());
  if (g_expect_failure) {
    std::printf(g_failures ? "the broken kernel was caught\n" : "the broken kernel was NOT caught\n");
    return g_failures ? 0 : 1;
  }
  return g_failures == 0 ? 0 : 1;
}
