// The linear scans of minGRU, minLSTM and the LRU on CPU, forward and backward, each one pass
// over the projected inputs with the gates fused in (deeprnn/kernels/parallel.py documents the
// equations). The recurrence is diagonal, so every (row, unit) is independent over time: each
// thread runs the whole time loop for a block of rows, the inner loop over the H units
// vectorised, and nothing is shared between threads.
//
// Layouts, batch-first and contiguous: xp (N, T, G*H) the input projections; hs (N, T, S) the
// state after every step (S = H, or 2H for the LRU's [re | im]); mask (N, T) bool or none (a
// masked step keeps the state: a = 1, b = 0); reverse scans t = T-1 .. 0.
#include "common.h"

namespace {

using at::Tensor;
using deeprnn_scan::bptr;
using deeprnn_scan::NoDenormals;
using deeprnn_scan::sigm;

constexpr int kMinGRU = 0, kMinLSTM = 1;

// g(c) = c + 1/2 (c >= 0), sigmoid(c) (c < 0), and g'(c); arithmetic selects vectorise
template <typename T>
DEEPRNN_INLINE T cand(T c, bool use_g) {
  if (!use_g) return c;
  const T s = sigm<T>(c);
  const T pos = c >= T(0) ? T(1) : T(0);
  return s + pos * (c + T(0.5) - s);
}
// g(c) and g'(c) from one exp
template <typename T>
DEEPRNN_INLINE void cand_both(T c, bool use_g, T& value, T& grad) {
  if (!use_g) {
    value = c;
    grad = T(1);
    return;
  }
  const T s = sigm<T>(c);
  const T pos = c >= T(0) ? T(1) : T(0);
  value = s + pos * (c + T(0.5) - s);
  grad = s * (T(1) - s) + pos * (T(1) - s * (T(1) - s));
}

template <typename F>
void over_row_blocks(int64_t N, F&& body) {
  at::parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
    NoDenormals guard;
    body(n0, n1);
  });
}

// -- minGRU / minLSTM -------------------------------------------------------------------------
template <typename T, int KIND, bool G>
void min_forward(const T* xp, const T* h0, const uint8_t* mask, T* hs, int64_t N, int64_t Ts,
                 int64_t H, bool reverse) {
  constexpr int64_t gates = KIND == kMinGRU ? 2 : 3;
  over_row_blocks(N, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* __restrict__ prev = h0 + n * H;
      for (int64_t k = 0; k < Ts; ++k) {
        const int64_t t = reverse ? Ts - 1 - k : k;
        const T* __restrict__ x = xp + (n * Ts + t) * gates * H;
        T* __restrict__ h = hs + (n * Ts + t) * H;
        if (mask && !mask[n * Ts + t]) {
          std::copy(prev, prev + H, h);
        } else if constexpr (KIND == kMinGRU) {
          for (int64_t j = 0; j < H; ++j) {
            const T z = sigm<T>(x[j]);
            const T c = cand<T>(x[H + j], G);
            h[j] = (T(1) - z) * prev[j] + z * c;
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const T f = sigm<T>(x[j]), i = sigm<T>(x[H + j]);
            const T s = f + i;
            const T c = cand<T>(x[2 * H + j], G);
            h[j] = f / s * prev[j] + i / s * c;
          }
        }
        prev = h;
      }
    }
  });
}

template <typename T, int KIND, bool G>
void min_backward(const T* d_hs, const T* xp, const T* hs, const T* h0, const uint8_t* mask,
                  T* d_xp, T* d_h0, int64_t N, int64_t Ts, int64_t H, bool reverse) {
  constexpr int64_t gates = KIND == kMinGRU ? 2 : 3;
  over_row_blocks(N, [&](int64_t n0, int64_t n1) {
    std::vector<T> carry(H);
    for (int64_t n = n0; n < n1; ++n) {
      std::fill(carry.begin(), carry.end(), T(0));
      T* __restrict__ cr = carry.data();
      for (int64_t k = Ts - 1; k >= 0; --k) {
        const int64_t t = reverse ? Ts - 1 - k : k;
        const int64_t tp = reverse ? t + 1 : t - 1;  // the previous step in scan order
        const T* __restrict__ prev = k == 0 ? h0 + n * H : hs + (n * Ts + tp) * H;
        const T* __restrict__ x = xp + (n * Ts + t) * gates * H;
        const T* __restrict__ dh = d_hs + (n * Ts + t) * H;
        T* __restrict__ dx = d_xp + (n * Ts + t) * gates * H;
        if (mask && !mask[n * Ts + t]) {
          for (int64_t j = 0; j < H; ++j) cr[j] += dh[j];
          std::fill(dx, dx + gates * H, T(0));
        } else if constexpr (KIND == kMinGRU) {
          for (int64_t j = 0; j < H; ++j) {
            const T g = dh[j] + cr[j];
            const T z = sigm<T>(x[j]);
            T c, cg;
            cand_both<T>(x[H + j], G, c, cg);
            dx[j] = g * (c - prev[j]) * z * (T(1) - z);
            dx[H + j] = g * z * cg;
            cr[j] = g * (T(1) - z);
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const T g = dh[j] + cr[j];
            const T f = sigm<T>(x[j]), i = sigm<T>(x[H + j]);
            const T s = f + i;
            T c, cg;
            cand_both<T>(x[2 * H + j], G, c, cg);
            const T d_fn = g * prev[j], d_in = g * c;  // d/d(f'), d/d(i')
            const T r = (d_fn - d_in) / (s * s);
            dx[j] = i * r * f * (T(1) - f);
            dx[H + j] = -f * r * i * (T(1) - i);
            dx[2 * H + j] = g * i / s * cg;
            cr[j] = g * f / s;
          }
        }
      }
      std::copy(cr, cr + H, d_h0 + n * H);
    }
  });
}

// -- LRU: complex diagonal scan s_t = lambda s_{t-1} + gamma u_t, u = xp[..., :2H] -------------
template <typename T>
void lru_forward(const T* xp, const T* h0, const uint8_t* mask, const T* lr, const T* li,
                 const T* gam, T* hs, int64_t N, int64_t Ts, int64_t H, bool reverse) {
  over_row_blocks(N, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* __restrict__ prev = h0 + n * 2 * H;
      for (int64_t k = 0; k < Ts; ++k) {
        const int64_t t = reverse ? Ts - 1 - k : k;
        const T* __restrict__ u = xp + (n * Ts + t) * 3 * H;
        T* __restrict__ s = hs + (n * Ts + t) * 2 * H;
        if (mask && !mask[n * Ts + t]) {
          std::copy(prev, prev + 2 * H, s);
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const T re = prev[j], im = prev[H + j];
            s[j] = lr[j] * re - li[j] * im + gam[j] * u[j];
            s[H + j] = lr[j] * im + li[j] * re + gam[j] * u[H + j];
          }
        }
        prev = s;
      }
    }
  });
}

// d_par (N, 3H): per-row sums of d lambda_re, d lambda_im, d gamma (summed over rows by the caller)
// d_y (N, T, H) or null: the output's gradient, which is the D columns' (y = ... + D x)
template <typename T>
void lru_backward(const T* d_hs, const T* d_y, const T* xp, const T* hs, const T* h0,
                  const uint8_t* mask, const T* lr, const T* li, const T* gam, T* d_xp, T* d_h0,
                  T* d_par, int64_t N, int64_t Ts, int64_t H, bool reverse) {
  over_row_blocks(N, [&](int64_t n0, int64_t n1) {
    std::vector<T> carry(2 * H);
    for (int64_t n = n0; n < n1; ++n) {
      std::fill(carry.begin(), carry.end(), T(0));
      T* __restrict__ cr = carry.data();
      T* __restrict__ dlr = d_par + n * 3 * H;
      T* __restrict__ dli = dlr + H;
      T* __restrict__ dga = dlr + 2 * H;
      std::fill(dlr, dlr + 3 * H, T(0));
      for (int64_t k = Ts - 1; k >= 0; --k) {
        const int64_t t = reverse ? Ts - 1 - k : k;
        const int64_t tp = reverse ? t + 1 : t - 1;
        const T* __restrict__ prev = k == 0 ? h0 + n * 2 * H : hs + (n * Ts + tp) * 2 * H;
        const T* __restrict__ u = xp + (n * Ts + t) * 3 * H;
        const T* __restrict__ ds = d_hs + (n * Ts + t) * 2 * H;
        T* __restrict__ dx = d_xp + (n * Ts + t) * 3 * H;
        if (d_y) {
          std::copy(d_y + (n * Ts + t) * H, d_y + (n * Ts + t + 1) * H, dx + 2 * H);
        } else {
          std::fill(dx + 2 * H, dx + 3 * H, T(0));
        }
        if (mask && !mask[n * Ts + t]) {
          for (int64_t j = 0; j < 2 * H; ++j) cr[j] += ds[j];
          std::fill(dx, dx + 2 * H, T(0));
          continue;
        }
        for (int64_t j = 0; j < H; ++j) {
          const T gr = ds[j] + cr[j], gi = ds[H + j] + cr[H + j];
          const T re = prev[j], im = prev[H + j];
          dx[j] = gam[j] * gr;
          dx[H + j] = gam[j] * gi;
          dga[j] += gr * u[j] + gi * u[H + j];
          dlr[j] += gr * re + gi * im;
          dli[j] += gi * re - gr * im;
          cr[j] = lr[j] * gr + li[j] * gi;
          cr[H + j] = lr[j] * gi - li[j] * gr;
        }
      }
      std::copy(cr, cr + 2 * H, d_h0 + n * 2 * H);
    }
  });
}

void check_inputs(const Tensor& xp, const Tensor& h0, const c10::optional<Tensor>& mask,
                  int64_t gates, int64_t width) {
  TORCH_CHECK(xp.dim() == 3 && xp.is_contiguous() && xp.device().is_cpu(),
              "deeprnn parallel scan: xp must be a contiguous CPU (N, T, G*H) tensor");
  TORCH_CHECK(xp.size(2) % gates == 0, "deeprnn parallel scan: xp width is not G*H");
  const int64_t H = xp.size(2) / gates;
  TORCH_CHECK(h0.dim() == 2 && h0.size(0) == xp.size(0) && h0.size(1) == width * H &&
                  h0.is_contiguous() && h0.scalar_type() == xp.scalar_type(),
              "deeprnn parallel scan: h0 must be contiguous (N, S) of xp's dtype");
  if (mask.has_value() && mask->defined()) {
    TORCH_CHECK(mask->scalar_type() == at::kBool && mask->is_contiguous() &&
                    mask->size(0) == xp.size(0) && mask->size(1) == xp.size(1),
                "deeprnn parallel scan: mask must be a contiguous (N, T) bool tensor");
  }
}

int kind_id(const std::string& kind) {
  if (kind == "mingru") return kMinGRU;
  if (kind == "minlstm") return kMinLSTM;
  TORCH_CHECK(false, "deeprnn parallel scan: unknown kind ", kind);
}

template <typename T, typename F>
void with_min(int kind, bool use_g, F&& f) {
  auto pick = [&](auto K) {
    if (use_g) {
      f(K, std::true_type{});
    } else {
      f(K, std::false_type{});
    }
  };
  if (kind == kMinGRU) {
    pick(std::integral_constant<int, kMinGRU>{});
  } else {
    pick(std::integral_constant<int, kMinLSTM>{});
  }
}

}  // namespace

// hs (N, T, H): the state after every step
Tensor min_scan_forward(const std::string& kind, const Tensor& xp, const Tensor& h0,
                        const c10::optional<Tensor>& mask, bool reverse, bool use_g) {
  const int k = kind_id(kind);
  const int64_t gates = k == kMinGRU ? 2 : 3;
  check_inputs(xp, h0, mask, gates, 1);
  const int64_t N = xp.size(0), Ts = xp.size(1), H = xp.size(2) / gates;
  Tensor hs = at::empty({N, Ts, H}, xp.options());
  const uint8_t* m = bptr(mask);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "min_scan_forward", [&] {
    with_min<scalar_t>(k, use_g, [&](auto K, auto G) {
      min_forward<scalar_t, decltype(K)::value, decltype(G)::value>(
          xp.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), m, hs.data_ptr<scalar_t>(), N, Ts,
          H, reverse);
    });
  });
  return hs;
}

// (d_xp (N, T, G*H), d_h0 (N, H)) given d_hs (N, T, H), the gradient of every state
std::vector<Tensor> min_scan_backward(const std::string& kind, const Tensor& d_hs,
                                      const Tensor& xp, const Tensor& hs, const Tensor& h0,
                                      const c10::optional<Tensor>& mask, bool reverse,
                                      bool use_g) {
  const int k = kind_id(kind);
  const int64_t gates = k == kMinGRU ? 2 : 3;
  check_inputs(xp, h0, mask, gates, 1);
  const Tensor d = d_hs.contiguous();
  const int64_t N = xp.size(0), Ts = xp.size(1), H = xp.size(2) / gates;
  Tensor d_xp = at::empty_like(xp);
  Tensor d_h0 = at::empty_like(h0);
  const uint8_t* m = bptr(mask);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "min_scan_backward", [&] {
    with_min<scalar_t>(k, use_g, [&](auto K, auto G) {
      min_backward<scalar_t, decltype(K)::value, decltype(G)::value>(
          d.data_ptr<scalar_t>(), xp.data_ptr<scalar_t>(), hs.data_ptr<scalar_t>(),
          h0.data_ptr<scalar_t>(), m, d_xp.data_ptr<scalar_t>(), d_h0.data_ptr<scalar_t>(), N,
          Ts, H, reverse);
    });
  });
  return {d_xp, d_h0};
}

// hs (N, T, 2H): [re | im] of the state after every step; lam_re, lam_im, gamma (H,)
Tensor lru_scan_forward(const Tensor& xp, const Tensor& h0, const c10::optional<Tensor>& mask,
                        const Tensor& lam_re, const Tensor& lam_im, const Tensor& gamma,
                        bool reverse) {
  check_inputs(xp, h0, mask, 3, 2);
  const int64_t N = xp.size(0), Ts = xp.size(1), H = xp.size(2) / 3;
  const Tensor lr = lam_re.contiguous(), li = lam_im.contiguous(), ga = gamma.contiguous();
  Tensor hs = at::empty({N, Ts, 2 * H}, xp.options());
  const uint8_t* m = bptr(mask);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lru_scan_forward", [&] {
    lru_forward<scalar_t>(xp.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), m,
                          lr.data_ptr<scalar_t>(), li.data_ptr<scalar_t>(),
                          ga.data_ptr<scalar_t>(), hs.data_ptr<scalar_t>(), N, Ts, H, reverse);
  });
  return hs;
}

// (d_xp (N, T, 3H; the D columns d_y, or zero), d_h0 (N, 2H), d_lam_re, d_lam_im, d_gamma (H,))
std::vector<Tensor> lru_scan_backward(const Tensor& d_hs, const c10::optional<Tensor>& d_y,
                                      const Tensor& xp, const Tensor& hs,
                                      const Tensor& h0, const c10::optional<Tensor>& mask,
                                      const Tensor& lam_re, const Tensor& lam_im,
                                      const Tensor& gamma, bool reverse) {
  check_inputs(xp, h0, mask, 3, 2);
  const int64_t N = xp.size(0), Ts = xp.size(1), H = xp.size(2) / 3;
  const Tensor d = d_hs.contiguous();
  const auto dy = deeprnn_scan::contig(d_y);
  const Tensor lr = lam_re.contiguous(), li = lam_im.contiguous(), ga = gamma.contiguous();
  Tensor d_xp = at::empty_like(xp);
  Tensor d_h0 = at::empty_like(h0);
  Tensor d_par = at::empty({N, 3 * H}, xp.options());
  const uint8_t* m = bptr(mask);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lru_scan_backward", [&] {
    lru_backward<scalar_t>(d.data_ptr<scalar_t>(), deeprnn_scan::ptr<scalar_t>(dy),
                           xp.data_ptr<scalar_t>(),
                           hs.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), m,
                           lr.data_ptr<scalar_t>(), li.data_ptr<scalar_t>(),
                           ga.data_ptr<scalar_t>(), d_xp.data_ptr<scalar_t>(),
                           d_h0.data_ptr<scalar_t>(), d_par.data_ptr<scalar_t>(), N, Ts, H,
                           reverse);
  });
  auto sums = d_par.sum(0).split(H);
  return {d_xp, d_h0, sums[0], sums[1], sums[2]};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("min_scan_forward", &min_scan_forward, "minGRU / minLSTM scan forward");
  m.def("min_scan_backward", &min_scan_backward, "minGRU / minLSTM scan backward");
  m.def("lru_scan_forward", &lru_scan_forward, "LRU complex diagonal scan forward");
  m.def("lru_scan_backward", &lru_scan_backward, "LRU complex diagonal scan backward");
}
