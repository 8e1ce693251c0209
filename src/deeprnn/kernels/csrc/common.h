// Shared helpers of the compiled scans (scan_forward.cpp, scan_backward.cpp).
#pragma once
#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <torch/extension.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#define DEEPRNN_INLINE inline __attribute__((always_inline))
#include <vector>

namespace deeprnn_scan {

using at::Tensor;

// exp that the compiler vectorises (Cephes expf, |rel err| < 2e-7); double uses std::exp.
// Written without branches or value selects (GCC does not if-convert those): the clamp to
// [-87, 88] and floor() are arithmetic. (An input of +-inf gives NaN, not 0 / inf.)
template <typename T>
DEEPRNN_INLINE T vexp(T x) {
  return std::exp(x);
}
template <>
DEEPRNN_INLINE float vexp<float>(float x) {
  x += (x < -87.0f ? 1.0f : 0.0f) * (-87.0f - x);
  x += (x > 88.0f ? 1.0f : 0.0f) * (88.0f - x);
  const float v = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(v);
  const float below = static_cast<float>(n) > v ? 1.0f : 0.0f;  // floor(v) = trunc(v) - below
  n -= static_cast<int32_t>(below);
  const float fx = static_cast<float>(n);
  x = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  const float z = x * x;
  float y = 1.9875691500E-4f;
  y = y * x + 1.3981999507E-3f;
  y = y * x + 8.3334519073E-3f;
  y = y * x + 4.1665795894E-2f;
  y = y * x + 1.6666665459E-1f;
  y = y * x + 5.0000001201E-1f;
  y = y * z + x + 1.0f;
  const int32_t bits = (n + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return y * scale;
}
template <typename T>
DEEPRNN_INLINE T sigm(T x) {
  return T(1) / (T(1) + vexp<T>(-x));
}
template <typename T>
DEEPRNN_INLINE T tanh_(T x) {
  return T(2) / (T(1) + vexp<T>(T(-2) * x)) - T(1);
}

template <typename T>
const T* ptr(const c10::optional<Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}
// bool tensors read as bytes: GCC does not vectorise loads of bool
inline const uint8_t* bptr(const c10::optional<Tensor>& t) {
  if (!t.has_value() || !t->defined()) return nullptr;
  TORCH_CHECK(t->scalar_type() == at::kBool, "deeprnn compiled scan: masks must be bool");
  return reinterpret_cast<const uint8_t*>(t->data_ptr<bool>());
}
inline c10::optional<Tensor> contig(const c10::optional<Tensor>& t) {
  if (t.has_value() && t->defined()) return t->contiguous();
  return c10::nullopt;
}

#if AT_MKL_ENABLED()
// MKL as linked into libtorch_cpu (LP64): the packed-GEMM API, BLAS and its per-thread count.
// Weak, so that a libtorch without them still loads the extension (and we fall back).
extern "C" {
// the C API (the lower-case mkl_set_num_threads_local symbol is the Fortran one, by pointer)
__attribute__((weak)) int MKL_Set_Num_Threads_Local(int n);
__attribute__((weak)) size_t cblas_sgemm_pack_get_size(int id, int m, int n, int k);
__attribute__((weak)) void cblas_sgemm_pack(int layout, int id, int trans, int m, int n, int k,
                                            float alpha, const float* src, int ld, float* dest);
__attribute__((weak)) void cblas_sgemm_compute(int layout, int transa, int transb, int m, int n,
                                               int k, const float* a, int lda, const float* b,
                                               int ldb, float beta, float* c, int ldc);
__attribute__((weak)) void sgemm_(const char*, const char*, const int*, const int*, const int*,
                                  const float*, const float*, const int*, const float*, const int*,
                                  const float*, float*, const int*);
__attribute__((weak)) void dgemm_(const char*, const char*, const int*, const int*, const int*,
                                  const double*, const double*, const int*, const double*,
                                  const int*, const double*, double*, const int*);
}
#endif

// C (M, n) = A (M, k) B for a fixed right operand B (k, n), row-major, called once per step.
// With `pack` (float, MKL): B is packed once per scan (cblas_sgemm_pack) instead of inside every
// call, 4-12% faster per call for the forward's (N, H) x (H, 4H); the backward's (N, 4H) x (4H, H)
// gained nothing packed, so it passes false. Else BLAS on raw pointers (no tensor per step);
// else at::mm_out.
template <typename T>
class Gemm {
 public:
  Gemm(const Tensor& b, bool pack) : b_(b.contiguous()), k_(b.size(0)), n_(b.size(1)) {
#if AT_MKL_ENABLED()
    if (aten_) return;
    if constexpr (std::is_same_v<T, float>) {
      if (pack && cblas_sgemm_pack && cblas_sgemm_compute && cblas_sgemm_pack_get_size) {
        const size_t bytes = cblas_sgemm_pack_get_size(kB, 1, n_, k_);
        packed_ = at::empty({static_cast<int64_t>(bytes / sizeof(float) + 16)}, b_.options());
        cblas_sgemm_pack(kRowMajor, kB, kNoTrans, 1, n_, k_, 1.0f, b_.data_ptr<float>(), n_,
                         packed_.data_ptr<float>());
      }
    }
#endif
  }
  int64_t k() const { return k_; }
  void operator()(int64_t m, const T* a, int64_t lda, T* c) const {
    if (m == 0) return;
#if AT_MKL_ENABLED()
    if (aten_) return mm(m, a, lda, c);
    const int M = m, K = k_, Nc = n_, LDA = lda;
    if constexpr (std::is_same_v<T, float>) {
      if (packed_.defined()) {
        cblas_sgemm_compute(kRowMajor, kNoTrans, kPacked, M, Nc, K, a, LDA,
                            packed_.data_ptr<float>(), Nc, 0.0f, c, Nc);
        return;
      }
    }
    // row-major C = A B is column-major C^T = B^T A^T
    const T one = 1, zero = 0;
    if constexpr (std::is_same_v<T, float>) {
      if (sgemm_) {
        sgemm_("N", "N", &Nc, &M, &K, &one, b_.data_ptr<float>(), &Nc, a, &LDA, &zero, c, &Nc);
        return;
      }
    } else {
      if (dgemm_) {
        dgemm_("N", "N", &Nc, &M, &K, &one, b_.data_ptr<double>(), &Nc, a, &LDA, &zero, c, &Nc);
        return;
      }
    }
#endif
    mm(m, a, lda, c);
  }

 private:
  void mm(int64_t m, const T* a, int64_t lda, T* c) const {
    const auto opt = b_.options();
    Tensor out = at::from_blob(c, {m, n_}, opt);
    at::mm_out(out, at::from_blob(const_cast<T*>(a), {m, k_}, {lda, 1}, opt), b_);
  }

  static constexpr int kRowMajor = 101, kNoTrans = 111, kPacked = 151, kB = 162;
  Tensor b_, packed_;
  int64_t k_, n_;
  // DEEPRNN_COMPILED_BLAS=0: at::mm_out only (tests run the fallback a build without MKL takes)
  const bool aten_ = std::getenv("DEEPRNN_COMPILED_BLAS") &&
                     std::string(std::getenv("DEEPRNN_COMPILED_BLAS")) == "0";
};

// Flush-to-zero and denormals-are-zero for the scope (restored after). Saturated gates give
// denormal floats (sigmoid(-90) = 8e-40), and a GEMM or pass over denormals runs many times
// slower; values below 1.2e-38 (float) / 2.2e-308 (double) read as 0 instead.
class NoDenormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  NoDenormals() : csr_(_mm_getcsr()) { _mm_setcsr(csr_ | 0x8040); }
  ~NoDenormals() { _mm_setcsr(csr_); }

 private:
  unsigned csr_;
#endif
};

// Runs body(n0, n1) over the rows [0, N) of one step: on the calling thread for batches up to
// about 64 rows of an LSTM with H = 256 (a working set of 64K gate values), split over torch's
// threads above. This is the shared path (one row block, see row_blocks): a threaded GEMM over
// all rows, then this pass, a barrier every step.
template <typename F>
void over_rows(int64_t N, int64_t G, F&& body) {
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, G));
  if (N <= grain || at::get_num_threads() == 1 || at::in_parallel_region()) {
    body(int64_t(0), N);
    return;
  }
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) {
    NoDenormals guard;
    body(n0, n1);
  });
}

// MKL on one thread for the calling thread, for the scope (MKL_Set_Num_Threads_Local; restored
// after). Inside an OpenMP region MKL already runs one thread by default; this makes it certain.
class OneBlasThread {
 public:
#if AT_MKL_ENABLED()
  OneBlasThread() : prev_(MKL_Set_Num_Threads_Local ? MKL_Set_Num_Threads_Local(1) : -1) {}
  ~OneBlasThread() {
    if (prev_ >= 0) MKL_Set_Num_Threads_Local(prev_);  // 0: back to the global setting
  }

 private:
  int prev_;
#endif
};

// -- Threading scheme: row blocks, each with its own time loop -----------------------------------
// The recurrence is independent per batch row: row n's state at step t depends on row n's alone
// (W_hh is shared, read-only). So the N rows split into P contiguous blocks and each block runs
// the WHOLE time loop on its own thread: per step a single-threaded GEMM over its M = N / P rows
// and its rows' elementwise pass. No barrier until the loop ends, where the shared path (P = 1)
// splits every step's GEMM across MKL's threads (and the pass, above about 64 rows) and
// synchronises every step. Each row's arithmetic is the same in both (its GEMM row
// and its pass), so results do not depend on the thread count beyond the GEMM's own rounding.
//
// THE choice of the scheme (every compiled scan asks here), made by measurement: the shared path
// (P = 1). On the 2-core machine this was measured on (AMD EPYC, 512 KB L2 per core; 2 layers,
// H = 256, B = 16-256, T = 100 and 1000; benchmarks/threads.py, docs/results.md "Thread-count
// axis") the shared path's train step and inference were faster than row blocks and unit
// blocks in every cell, for every kind: with W_hh (1 MB for the LSTM) larger than a core's L2,
// row blocks stream the whole weight from L3 on every thread every step (two threads each running
// independent single-threaded (B/2, 256) x (256, 1024) GEMMs: 1.15x one thread's rate; MKL's own
// threaded GEMM: 1.6x). DEEPRNN_ROW_BLOCKS=k runs k row blocks (k <= 0: the shared path), for
// machines where they pay (many cores, a weight that fits L2): measure with
// benchmarks/threads.py. At one thread the k blocks run one after the other (the test path).
inline int64_t row_blocks(int64_t N) {
  const char* env = std::getenv("DEEPRNN_ROW_BLOCKS");
  if (!env) return 1;
  const int64_t k = std::atoll(env);
  if (k <= 0) return 1;
  return std::clamp<int64_t>(k, 1, std::max<int64_t>(N, 1));
}

// The rows [n0, n1) one time loop runs. split: a block on its own thread (single-threaded BLAS,
// the pass runs right here); else all N rows, threaded GEMM, the pass over_rows. each(G, body)
// runs a step's pass body(r0, r1) over the rows (absolute row indices either way).
struct Rows {
  int64_t n0, n1;
  bool split;
  int64_t m() const { return n1 - n0; }
  template <typename F>
  void each(int64_t G, F&& body) const {
    if (split) {
      body(n0, n1);
    } else {
      over_rows(n1 - n0, G, [&](int64_t a, int64_t b) { body(n0 + a, n0 + b); });
    }
  }
};

// Runs loop(rows) once per row block (row_blocks): one block per thread through at::parallel_for,
// or loop({0, N, false}) on the calling thread for the shared path.
template <typename F>
void over_row_blocks(int64_t N, F&& loop) {
  const int64_t P = row_blocks(N);
  if (P <= 1) {
    loop(Rows{0, N, false});
    return;
  }
  at::parallel_for(0, P, 1, [&](int64_t b0, int64_t b1) {
    NoDenormals guard;
    OneBlasThread one;
    for (int64_t b = b0; b < b1; ++b) loop(Rows{N * b / P, N * (b + 1) / P, true});
  });
}

// -- Threading scheme 2: unit blocks, all rows, one barrier per step ---------------------------
// The other way to split a step (oneDNN's RNN primitive splits its per-step GEMM by output
// blocks): P threads each own a contiguous slice [u0, u1) of the H hidden units, of every gate,
// for ALL N rows. Per step thread b runs a single-threaded GEMM of all N rows against ITS slice
// of W_hh (packed once, (H, G/H * (u1-u0)): 1/P of the weight, which stays in that core's cache)
// and the pass over its units; then one barrier, since the next step's GEMM reads every unit of
// h_t. Row blocks shrink the GEMM's M to N/P rows, where a small-M GEMM streams the whole weight
// for few rows; unit blocks keep M = N and shrink the weight instead. Each output element is the
// same dot product (over the same K) either way, so results match the other schemes to the
// GEMM's rounding. Not for the layer-norm kinds (their row statistics span every unit).
//
// Opt-in like row blocks (the shared path was faster here too, see row_blocks):
// DEEPRNN_UNIT_BLOCKS=k runs k unit blocks (at most H / 8; k <= 0 or unset: none) for the lstm
// and gru kinds; at one thread the k blocks run one after the other (the test path).

// Sense-counting spin barrier over `n` arrivals (a thread running several blocks arrives with
// their count). Everything written before arrive() is visible after it returns (acq_rel RMW,
// release store of the generation, acquire load).
class SpinBarrier {
 public:
  explicit SpinBarrier(int64_t n) : n_(n) {}
  void arrive(int64_t count) {
    const int64_t gen = gen_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(count, std::memory_order_acq_rel) + count == n_) {
      arrived_.store(0, std::memory_order_relaxed);
      gen_.store(gen + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; gen_.load(std::memory_order_acquire) == gen; ++spins) {
#if defined(__x86_64__) || defined(__i386__)
      if (spins < 65536) {
        _mm_pause();
        continue;
      }
#endif
      std::this_thread::yield();
    }
  }

 private:
  const int64_t n_;
  std::atomic<int64_t> arrived_{0};
  std::atomic<int64_t> gen_{0};
};

inline int64_t unit_blocks(int64_t N, int64_t H) {
  const char* env = std::getenv("DEEPRNN_UNIT_BLOCKS");
  if (!env || N <= 0) return 1;
  const int64_t k = std::atoll(env);
  if (k <= 0) return 1;
  return std::clamp<int64_t>(k, 1, std::max<int64_t>(H / 8, 1));
}

// The units [u0, u1) of block b of P over H units, cut at multiples of 8 (a SIMD width).
struct Units {
  int64_t u0, u1;
  int64_t n() const { return u1 - u0; }
};
inline Units unit_block(int64_t H, int64_t P, int64_t b) {
  const auto cut = [&](int64_t i) { return i == P ? H : std::min(H, (H * i / P + 4) / 8 * 8); };
  return {cut(b), cut(b + 1)};
}

// The columns of `w` (K, gates * H), gate-major, that produce the units [u0, u1) of every gate:
// (K, gates * (u1 - u0)), contiguous.
inline Tensor unit_columns(const Tensor& w, int64_t gates, int64_t H, const Units& u) {
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < gates; ++k) parts.push_back(w.narrow(1, k * H + u.u0, u.n()));
  return at::cat(parts, 1).contiguous();
}

// The GEMMs of P unit blocks against a fixed right operand w (K, gates * H): block b's
// columns packed once (unit_columns), gemm(b, a) = a (N, K) times them into the block's own
// (N, gates * hu) buffer (row stride ld(b)). The backward's dh = dhp W_hh passes gates 1.
template <typename T>
struct UnitPlan {
  UnitPlan(const Tensor& w, int64_t gates, int64_t H, int64_t N, int64_t P) : N_(N) {
    for (int64_t b = 0; b < P; ++b) {
      units.push_back(unit_block(H, P, b));
      gemms.push_back(std::make_unique<Gemm<T>>(unit_columns(w, gates, H, units.back()), true));
      outs.push_back(w.new_empty({N, gates * units.back().n()}));
    }
  }
  T* gemm(int64_t b, const T* a) const {
    T* c = outs[b].template data_ptr<T>();
    (*gemms[b])(N_, a, gemms[b]->k(), c);
    return c;
  }
  int64_t ld(int64_t b) const { return outs[b].size(1); }
  std::vector<Units> units;
  std::vector<std::unique_ptr<Gemm<T>>> gemms;
  std::vector<Tensor> outs;

 private:
  int64_t N_;
};

// Runs loop(b0, b1, barrier) on P unit blocks: through at::parallel_for, each thread its blocks
// [b0, b1) (one each when threads >= P), all sharing one barrier of P arrivals.
template <typename F>
void over_unit_blocks(int64_t P, F&& loop) {
  SpinBarrier barrier(P);
  at::parallel_for(0, P, 1, [&](int64_t b0, int64_t b1) {
    NoDenormals guard;
    OneBlasThread one;
    loop(b0, b1, barrier);
  });
}

// The inference scans' loop: steps in blocks of at most S (the block size that keeps the block's
// projected inputs, S x N x G values, near 4 MB); project(steps, t_lo) fills the block buffer
// for times [t_lo, t_lo + steps) (one GEMM over all rows, MKL threaded), then the row blocks
// (over_row_blocks) run step(k, t, t_lo, rows) for each step k (time t) of the block.
inline int64_t step_block(int64_t T, int64_t N, int64_t G) {
  return std::clamp<int64_t>((int64_t(1) << 20) / std::max<int64_t>(1, N * G), 1,
                             std::max<int64_t>(T, 1));
}
template <typename P, typename F>
void over_step_blocks(int64_t T, int64_t N, int64_t S, bool backwards, P&& project, F&& step) {
  for (int64_t k0 = 0; k0 < T; k0 += S) {
    const int64_t steps = std::min(S, T - k0);
    const int64_t t_lo = backwards ? T - k0 - steps : k0;
    project(steps, t_lo);
    over_row_blocks(N, [&](const Rows& rows) {
      for (int64_t k = k0; k < k0 + steps; ++k) step(k, backwards ? T - 1 - k : k, t_lo, rows);
    });
  }
}

// Zoneout mix of one state element, Z a compile-time mode so that the loops vectorise:
// 0 none, 1 training keep-mask (keep the old value), 2 eval lerp (fresh + p (old - fresh)).
// Arithmetic, not a select, for the vectoriser (exact up to one rounding of fresh).
template <int Z, typename T>
DEEPRNN_INLINE T zone(T fresh, T old, bool keep, T p) {
  if constexpr (Z == 1) {
    return fresh + static_cast<T>(keep) * (old - fresh);
  } else if constexpr (Z == 2) {
    return fresh + p * (old - fresh);
  } else {
    return fresh;
  }
}

// A masked row keeps its old state and writes zeros to out (after the row's pass).
template <typename T>
inline void hold(int64_t H, const T* old, T* fresh, T* out) {
  std::copy(old, old + H, fresh);
  std::fill(out, out + H, T(0));
}

// Calls f(std::integral_constant<int, Z>, std::bool_constant<RM>) for the runtime flags.
template <typename F>
void with_flags(int zmode, bool rm, F&& f) {
  auto z = [&](auto Z) {
    if (rm) {
      f(Z, std::true_type{});
    } else {
      f(Z, std::false_type{});
    }
  };
  if (zmode == 1) {
    z(std::integral_constant<int, 1>{});
  } else if (zmode == 2) {
    z(std::integral_constant<int, 2>{});
  } else {
    z(std::integral_constant<int, 0>{});
  }
}

void check(const Tensor& xp, const Tensor& w_hh, const Tensor& h0, int64_t gates);
void check_infer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& h0,
                 int64_t G);

}  // namespace deeprnn_scan

std::vector<at::Tensor> scan_backward(
    const std::string& kind, const at::Tensor& d_out, const at::Tensor& d_hT,
    const c10::optional<at::Tensor>& d_cT, const at::Tensor& xp, const at::Tensor& w_hh,
    const c10::optional<at::Tensor>& b_hh, const c10::optional<at::Tensor>& rec_mask,
    const c10::optional<at::Tensor>& mask, const c10::optional<at::Tensor>& keep_h,
    const c10::optional<at::Tensor>& keep_c, const at::Tensor& states_h,
    const c10::optional<at::Tensor>& states_c, const at::Tensor& acts, double zoneout,
    bool training, bool backwards);

std::vector<at::Tensor> ln_scan_forward(
    const std::string& kind, const at::Tensor& xp, const at::Tensor& w_hh,
    const c10::optional<at::Tensor>& rec_mask, const c10::optional<at::Tensor>& mask,
    const c10::optional<at::Tensor>& keep_h, const c10::optional<at::Tensor>& keep_c,
    const at::Tensor& h0, const c10::optional<at::Tensor>& c0, std::vector<at::Tensor> pw,
    double zoneout, bool training, bool backwards, bool need_acts);

std::vector<at::Tensor> ln_scan_infer(const std::string& kind, const at::Tensor& x,
                                      const at::Tensor& w_ih, const at::Tensor& w_hh,
                                      const c10::optional<at::Tensor>& mask, const at::Tensor& h0,
                                      const c10::optional<at::Tensor>& c0,
                                      std::vector<at::Tensor> pw, double zoneout, bool backwards);

std::vector<at::Tensor> ln_scan_backward(
    const std::string& kind, const at::Tensor& d_out, const at::Tensor& d_hT,
    const c10::optional<at::Tensor>& d_cT, const at::Tensor& xp, const at::Tensor& w_hh,
    const c10::optional<at::Tensor>& rec_mask, const c10::optional<at::Tensor>& mask,
    const c10::optional<at::Tensor>& keep_h, const c10::optional<at::Tensor>& keep_c,
    const at::Tensor& states_h, const c10::optional<at::Tensor>& states_c, const at::Tensor& acts,
    std::vector<at::Tensor> pw, double zoneout, bool training, bool backwards);
