// Layer-normalised kinds of the compiled scans: ln_lstm and ln_gru (deeprnn.kernels._pointwise
// LN_KERNELS), forward and hand-written BPTT, one GEMM + one fused row pass per step.
//
// LN(v) = xhat * gain + shift, xhat = (v - mean(v)) * rstd, rstd = 1 / sqrt(var(v) + 1e-5),
// statistics over the features of one row (biased variance, as F.layer_norm).
//   ln_lstm: gates = xp_t + LN_hh(W_hh hin); c = f c' + i g; h = o tanh(LN_c(c))
//            act = [i, f, g, o | xhat_hh (4H) | chat (H) | rstd_hh | rstd_c]       (9H + 2)
//   ln_gru:  hp = LN_hh(W_hh hin); r, z, n, h as the reset-after GRU on hp
//            act = [r, z, n, hp_n | xhat_hh (3H) | rstd_hh]                         (7H + 1)
// pw = (g_hh, b_hh, g_c, b_c) for ln_lstm, (g_hh, b_hh) for ln_gru.
// Backward through LN: dv = rstd (dy - mean(dy) - xhat mean(dy xhat)), per row.
#include "common.h"

namespace deeprnn_scan {
namespace {

constexpr double kEps = 1e-5;

struct LnStep {
  int64_t N, H, G, A;
  int zmode;
  double p;
};

// Row sums with kLanes partial sums: a plain `s += v[j]` loop does not vectorise (the
// compiler may not reassociate), this one becomes vector adds.
constexpr int kLanes = 16;

// sum_j f(j) over a row of n values
template <typename T, typename F>
inline T lane_sum(int64_t n, F f) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += f(j + l);
  }
  T s = 0;
  for (; j < n; ++j) s += f(j);
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

// mean and rstd of a row of n values (two passes, as torch.var_mean with correction 0)
template <typename T>
inline void row_stats(const T* __restrict__ v, int64_t n, T& mean, T& rstd) {
  mean = lane_sum<T>(n, [&](int64_t j) { return v[j]; }) / static_cast<T>(n);
  const T m = mean;
  const T q = lane_sum<T>(n, [&](int64_t j) { return (v[j] - m) * (v[j] - m); });
  rstd = T(1) / std::sqrt(q / static_cast<T>(n) + static_cast<T>(kEps));
}

// zoneout / time mask / out / next GEMM input of one row, after the cell wrote hn (and cn)
template <int Z, bool RM, typename T>
void finish_row(int64_t H, T p, bool m, const T* __restrict__ hp, T* __restrict__ hn,
                const T* __restrict__ cp, T* __restrict__ cn, T* __restrict__ out,
                const uint8_t* __restrict__ kh, const uint8_t* __restrict__ kc,
                const T* __restrict__ rm, T* __restrict__ hin) {
  if (!m) {  // a masked row keeps its state
    std::copy(hp, hp + H, hn);
    std::fill(out, out + H, T(0));
    if (cn) std::copy(cp, cp + H, cn);
    if constexpr (RM) {
      for (int64_t j = 0; j < H; ++j) hin[j] = hp[j] * rm[j];
    }
    return;
  }
  for (int64_t j = 0; j < H; ++j) {
    const T h = zone<Z>(hn[j], hp[j], Z == 1 ? kh[j] : uint8_t(0), p);
    hn[j] = h;
    out[j] = h;
    if constexpr (RM) hin[j] = h * rm[j];
  }
  if (cn) {
    for (int64_t j = 0; j < H; ++j) cn[j] = zone<Z>(cn[j], cp[j], Z == 1 ? kc[j] : uint8_t(0), p);
  }
}

// the gate loop of an ln_lstm row, its own function so that xhat (a slice of the row's
// activations) is a separate restrict parameter: then the loop vectorises
template <typename T>
__attribute__((noinline)) void ln_lstm_gates(int64_t H, const T* __restrict__ x,
                                             const T* __restrict__ b_hh, const T* __restrict__ g_hh,
                                             const T* __restrict__ xhat, const T* __restrict__ cp,
                                             T* __restrict__ a, T* __restrict__ cn) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigm(x[j] + b_hh[j] + xhat[j] * g_hh[j]);
    const T f = sigm(x[H + j] + b_hh[H + j] + xhat[H + j] * g_hh[H + j]);
    const T gg = tanh_(x[2 * H + j] + b_hh[2 * H + j] + xhat[2 * H + j] * g_hh[2 * H + j]);
    const T o = sigm(x[3 * H + j] + b_hh[3 * H + j] + xhat[3 * H + j] * g_hh[3 * H + j]);
    a[j] = i;
    a[H + j] = f;
    a[2 * H + j] = gg;
    a[3 * H + j] = o;
    cn[j] = f * cp[j] + i * gg;
  }
}

template <typename T>
__attribute__((noinline)) void ln_gru_gates(int64_t H, const T* __restrict__ x,
                                            const T* __restrict__ b_hh, const T* __restrict__ g_hh,
                                            const T* __restrict__ xhat, const T* __restrict__ hp,
                                            T* __restrict__ a, T* __restrict__ hn) {
  for (int64_t j = 0; j < H; ++j) {
    const T hr = b_hh[j] + xhat[j] * g_hh[j];
    const T hz = b_hh[H + j] + xhat[H + j] * g_hh[H + j];
    const T hn_ = b_hh[2 * H + j] + xhat[2 * H + j] * g_hh[2 * H + j];
    const T r = sigm(x[j] + hr), z = sigm(x[H + j] + hz);
    const T nn = tanh_(x[2 * H + j] + r * hn_);
    a[j] = r;
    a[H + j] = z;
    a[2 * H + j] = nn;
    a[3 * H + j] = hn_;
    hn[j] = nn + z * (hp[j] - nn);
  }
}

template <typename T>
__attribute__((noinline)) void ln_lstm_fwd_row(int64_t H, const T* __restrict__ x,
                                               const T* __restrict__ g, const T* __restrict__ g_hh,
                                               const T* __restrict__ b_hh,
                                               const T* __restrict__ g_c, const T* __restrict__ b_c,
                                               const T* __restrict__ cp, T* __restrict__ hn,
                                               T* __restrict__ cn, T* __restrict__ a) {
  T mean_, rstd_;
  row_stats(g, 4 * H, mean_, rstd_);
  const T mean = mean_, rstd = rstd_;  // values, not memory the stores below might alias
  T* __restrict__ xhat = a + 4 * H;
  for (int64_t j = 0; j < 4 * H; ++j) xhat[j] = (g[j] - mean) * rstd;
  ln_lstm_gates<T>(H, x, b_hh, g_hh, xhat, cp, a, cn);
  T mc_, rc_;
  row_stats(cn, H, mc_, rc_);
  const T mc = mc_, rc = rc_;
  T* __restrict__ chat = a + 8 * H;
  for (int64_t j = 0; j < H; ++j) {
    chat[j] = (cn[j] - mc) * rc;
    hn[j] = a[3 * H + j] * tanh_(b_c[j] + chat[j] * g_c[j]);
  }
  a[9 * H] = rstd;
  a[9 * H + 1] = rc;
}

template <typename T>
__attribute__((noinline)) void ln_gru_fwd_row(int64_t H, const T* __restrict__ x,
                                              const T* __restrict__ g, const T* __restrict__ g_hh,
                                              const T* __restrict__ b_hh, const T* __restrict__ hp,
                                              T* __restrict__ hn, T* __restrict__ a) {
  T mean_, rstd_;
  row_stats(g, 3 * H, mean_, rstd_);
  const T mean = mean_, rstd = rstd_;
  T* __restrict__ xhat = a + 4 * H;
  for (int64_t j = 0; j < 3 * H; ++j) xhat[j] = (g[j] - mean) * rstd;
  ln_gru_gates<T>(H, x, b_hh, g_hh, xhat, hp, a, hn);
  a[7 * H] = rstd;
}

// dv = rstd (dy - mean(dy) - xhat mean(dy xhat)) with dy = d * gain, over n features
template <typename T>
inline void ln_backward_row(int64_t n, const T* __restrict__ d, const T* __restrict__ gain,
                            const T* __restrict__ xhat, T rstd, T* __restrict__ dv) {
  const T s1 = lane_sum<T>(n, [&](int64_t j) { return d[j] * gain[j]; }) / static_cast<T>(n);
  const T s2 =
      lane_sum<T>(n, [&](int64_t j) { return d[j] * gain[j] * xhat[j]; }) / static_cast<T>(n);
  for (int64_t j = 0; j < n; ++j) dv[j] = rstd * (d[j] * gain[j] - s1 - xhat[j] * s2);
}

// dgain += d * xhat, dshift += d over n features of one row (double sums)
template <typename T>
inline void add_ln_grads(int64_t n, const T* __restrict__ d, const T* __restrict__ xhat,
                         double* __restrict__ dg, double* __restrict__ db) {
  for (int64_t j = 0; j < n; ++j) {
    dg[j] += static_cast<double>(d[j]) * static_cast<double>(xhat[j]);
    db[j] += static_cast<double>(d[j]);
  }
}

// one row of the ln_lstm backward; dh (incoming, with zoneout removed) and zh in scratch
template <typename T>
__attribute__((noinline)) void ln_lstm_bwd_row(int64_t H, const T* __restrict__ g_hh,
                                               const T* __restrict__ g_c, const T* __restrict__ b_c,
                                               const T* __restrict__ a, const T* __restrict__ cp,
                                               const T* __restrict__ dh, T* __restrict__ dc,
                                               T* __restrict__ dcn, T* __restrict__ tmp,
                                               T* __restrict__ dx, T* __restrict__ dhp) {
  const T* __restrict__ chat = a + 8 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T tn = tanh_(b_c[j] + chat[j] * g_c[j]);
    tmp[j] = tn;
    dcn[j] = dh[j] * a[3 * H + j] * (T(1) - tn * tn);
  }
  T* __restrict__ dcl = tmp + H;
  ln_backward_row<T>(H, dcn, g_c, chat, a[9 * H + 1], dcl);
  for (int64_t j = 0; j < H; ++j) {
    const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
    const T d = dc[j] + dcl[j];
    dx[j] = d * g * i * (T(1) - i);
    dx[H + j] = d * cp[j] * f * (T(1) - f);
    dx[2 * H + j] = d * i * (T(1) - g * g);
    dx[3 * H + j] = dh[j] * tmp[j] * o * (T(1) - o);
    dc[j] = d * f;  // the cell's path to dc'
  }
  ln_backward_row<T>(4 * H, dx, g_hh, a + 4 * H, a[9 * H], dhp);
}

template <typename T>
__attribute__((noinline)) void ln_gru_bwd_row(int64_t H, const T* __restrict__ g_hh,
                                              const T* __restrict__ a, const T* __restrict__ hp,
                                              T* __restrict__ dh, T* __restrict__ dx,
                                              T* __restrict__ dhn, T* __restrict__ dhp) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = a[j], z = a[H + j], nn = a[2 * H + j], hn = a[3 * H + j];
    const T dn = dh[j] * (T(1) - z) * (T(1) - nn * nn);
    const T dz = dh[j] * (hp[j] - nn) * z * (T(1) - z);
    const T dr = dn * hn * r * (T(1) - r);
    dx[j] = dr;
    dx[H + j] = dz;
    dx[2 * H + j] = dn;
    dhn[j] = dr;
    dhn[H + j] = dz;
    dhn[2 * H + j] = dn * r;
    dh[j] = dh[j] * z;  // the cell's direct path to dh'
  }
  ln_backward_row<T>(3 * H, dhn, g_hh, a + 4 * H, a[7 * H], dhp);
}

// the incoming gradient of one row, split by zoneout: dh_e / dc (in place) flow through the
// cell, zh / zc go straight to the previous state
template <int Z, bool RM, typename T>
__attribute__((noinline)) void ln_bwd_prologue(int64_t H, T p, const T* __restrict__ dhd,
                                               const T* __restrict__ dout, const T* __restrict__ gm,
                                               const T* __restrict__ rm, T* __restrict__ dc,
                                               const uint8_t* __restrict__ kh,
                                               const uint8_t* __restrict__ kc, T* __restrict__ dh_e,
                                               T* __restrict__ zh, T* __restrict__ zc) {
  for (int64_t j = 0; j < H; ++j) {
    T dh = dhd[j] + dout[j];
    if constexpr (RM) {
      dh += rm[j] * gm[j];
    } else {
      dh += gm[j];
    }
    T z = 0;
    if constexpr (Z == 1) z = static_cast<T>(kh[j]) * dh;
    if constexpr (Z == 2) z = p * dh;
    dh_e[j] = dh - z;
    zh[j] = z;
  }
  if (dc) {
    for (int64_t j = 0; j < H; ++j) {
      T z = 0;
      if constexpr (Z == 1) z = static_cast<T>(kc[j]) * dc[j];
      if constexpr (Z == 2) z = p * dc[j];
      dc[j] -= z;
      zc[j] = z;
    }
  }
}

}  // namespace
}  // namespace deeprnn_scan

using namespace deeprnn_scan;

namespace {

std::vector<const void*> pw_ptrs(const std::vector<Tensor>& pw, size_t n, int64_t width) {
  TORCH_CHECK(pw.size() == n, "deeprnn compiled scan: expected ", n, " layer-norm parameters");
  std::vector<const void*> out;
  for (const auto& q : pw) {
    TORCH_CHECK(q.is_contiguous() && q.dim() == 1, "deeprnn compiled scan: LN params 1-D");
    out.push_back(q.data_ptr());
  }
  TORCH_CHECK(pw[0].size(0) == width, "deeprnn compiled scan: LN gain has ", pw[0].size(0),
              " features, expected ", width);
  return out;
}

}  // namespace

// Returns [out, states_h, states_c or (0,), acts (T, N, act_width) or (0,) without need_acts].
std::vector<Tensor> ln_scan_forward(const std::string& kind, const Tensor& xp_, const Tensor& w_hh,
                                    const c10::optional<Tensor>& rec_mask_,
                                    const c10::optional<Tensor>& mask_,
                                    const c10::optional<Tensor>& keep_h_,
                                    const c10::optional<Tensor>& keep_c_, const Tensor& h0,
                                    const c10::optional<Tensor>& c0, std::vector<Tensor> pw,
                                    double zoneout, bool training, bool backwards, bool need_acts) {
  const bool lstm = kind == "ln_lstm";
  TORCH_CHECK(lstm || kind == "ln_gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  check(xp_, w_hh, h0, lstm ? 4 : 3);
  TORCH_CHECK(!lstm || (c0.has_value() && c0->defined()), "deeprnn compiled scan: needs c0");
  const Tensor xp = xp_.contiguous();
  for (auto& q : pw) q = q.contiguous();
  auto rec_mask = contig(rec_mask_), mask = contig(mask_);
  auto keep_h = contig(keep_h_), keep_c = contig(keep_c_);
  const int64_t T = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  const int64_t A = lstm ? 9 * H + 2 : 7 * H + 1;
  const int zmode = zoneout > 0 ? (training ? 1 : 2) : 0;
  TORCH_CHECK(zmode != 1 || (keep_h.has_value() && (!lstm || keep_c.has_value())),
              "deeprnn compiled scan: zoneout in training needs its keep-masks");
  const auto pws = pw_ptrs(pw, lstm ? 4 : 2, G);
  Tensor states_h = xp.new_empty({T + 1, N, H});
  states_h[0].copy_(h0);
  Tensor states_c = lstm ? xp.new_empty({T + 1, N, H}) : xp.new_empty({0});
  if (lstm) states_c[0].copy_(*c0);
  Tensor acts = xp.new_empty({need_acts ? T : 1, N, A});
  Tensor out = xp.new_empty({T, N, H});
  Tensor hp = xp.new_empty({N, G});
  const Tensor w_t = w_hh.t().contiguous();
  Tensor hin_buf;
  if (rec_mask) hin_buf = states_h[0] * *rec_mask;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_ln_scan_forward", [&] {
    using T_ = scalar_t;
    const T_* pwp[4] = {};
    for (size_t i = 0; i < pws.size(); ++i) pwp[i] = static_cast<const T_*>(pws[i]);
    const T_* rm = ptr<T_>(rec_mask);
    const uint8_t* mk = bptr(mask);
    const uint8_t* kh = bptr(keep_h);
    const uint8_t* kc = bptr(keep_c);
    T_* sh = states_h.data_ptr<T_>();
    T_* sc = lstm ? states_c.data_ptr<T_>() : nullptr;
    T_* hin = rm ? hin_buf.data_ptr<T_>() : nullptr;
    const T_ p = static_cast<T_>(zoneout);
    T_* hpp = hp.data_ptr<T_>();
    const Gemm<T_> gemm(w_t, true);
    NoDenormals guard;
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = backwards ? T - 1 - k : k;
      gemm(N, rm ? hin : sh + k * N * H, H, hpp);
      const T_* x = xp.data_ptr<T_>() + t * N * G;
      T_* a = acts.data_ptr<T_>() + (need_acts ? k * N * A : 0);
      T_* o = out.data_ptr<T_>() + t * N * H;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      const uint8_t* kht = kh ? kh + t * N * H : nullptr;
      const uint8_t* kct = kc ? kc + t * N * H : nullptr;
      const T_* hprev = sh + k * N * H;
      T_* hnew = sh + (k + 1) * N * H;
      const T_* cprev = lstm ? sc + k * N * H : nullptr;
      T_* cnew = lstm ? sc + (k + 1) * N * H : nullptr;
      with_flags(zmode, rm != nullptr, [&](auto Zc, auto RMc) {
        constexpr int Z = decltype(Zc)::value;
        constexpr bool RM = decltype(RMc)::value;
        over_rows(N, G, [&](int64_t n0, int64_t n1) {
          for (int64_t n = n0; n < n1; ++n) {
            const int64_t r = n * H;
            if (lstm) {
              ln_lstm_fwd_row<T_>(H, x + n * G, hpp + n * G, pwp[0], pwp[1], pwp[2], pwp[3],
                                  cprev + r, hnew + r, cnew + r, a + n * A);
            } else {
              ln_gru_fwd_row<T_>(H, x + n * G, hpp + n * G, pwp[0], pwp[1], hprev + r, hnew + r,
                                 a + n * A);
            }
            finish_row<Z, RM, T_>(H, p, mt ? mt[n] != 0 : true, hprev + r, hnew + r,
                                  lstm ? cprev + r : nullptr, lstm ? cnew + r : nullptr, o + r,
                                  Z == 1 ? kht + r : nullptr, Z == 1 && lstm ? kct + r : nullptr,
                                  RM ? rm + r : nullptr, RM ? hin + r : nullptr);
          }
        });
      });
    }
  });
  return {out, states_h, states_c, need_acts ? acts : xp.new_empty({0})};
}

// Returns [dxp, dW_hh, dh0, dc0 or (0,), d_pw...] (pw order).
std::vector<Tensor> ln_scan_backward(
    const std::string& kind, const Tensor& d_out_, const Tensor& d_hT,
    const c10::optional<Tensor>& d_cT, const Tensor& xp, const Tensor& w_hh_,
    const c10::optional<Tensor>& rec_mask_, const c10::optional<Tensor>& mask_,
    const c10::optional<Tensor>& keep_h_, const c10::optional<Tensor>& keep_c_,
    const Tensor& states_h_, const c10::optional<Tensor>& states_c_, const Tensor& acts_,
    std::vector<Tensor> pw, double zoneout, bool training, bool backwards) {
  const bool lstm = kind == "ln_lstm";
  TORCH_CHECK(lstm || kind == "ln_gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  check(xp, w_hh_, d_hT, lstm ? 4 : 3);
  TORCH_CHECK(!lstm || (states_c_.has_value() && d_cT.has_value()),
              "deeprnn compiled scan: ln_lstm backward needs states_c and d_cT");
  for (auto& q : pw) q = q.contiguous();
  const Tensor d_out = d_out_.contiguous(), w_hh = w_hh_.contiguous();
  const Tensor states_h = states_h_.contiguous(), acts = acts_.contiguous();
  auto rec_mask = contig(rec_mask_), mask = contig(mask_);
  auto keep_h = contig(keep_h_), keep_c = contig(keep_c_), states_c = contig(states_c_);
  const int64_t T = xp.size(0), N = xp.size(1), G = xp.size(2), H = d_hT.size(1);
  const int64_t A = acts.size(2);
  TORCH_CHECK(A == (lstm ? 9 * H + 2 : 7 * H + 1), "deeprnn compiled scan: acts has ", A,
              " columns");
  const int zmode = zoneout > 0 ? (training ? 1 : 2) : 0;
  const auto pws = pw_ptrs(pw, lstm ? 4 : 2, G);
  Tensor dxp = at::empty_like(xp, at::MemoryFormat::Contiguous);
  Tensor dhp = at::empty({T, N, G}, xp.options());  // gradient at W_hh hin, processing order
  // gradients of the LN gains and shifts, [g_hh | b_hh (| g_c | b_c)], summed over the steps and
  // rows inside the pass (one double accumulator per thread) instead of over (T, N, G) tensors
  const int64_t Q = lstm ? H : G, W = 2 * G + (lstm ? 2 * H : 0);
  const int64_t n_acc = std::max<int64_t>(1, at::get_num_threads());
  Tensor acc = at::zeros({n_acc, W}, xp.options().dtype(at::kDouble));
  Tensor dhd = d_hT.contiguous().clone();
  Tensor dcc = lstm ? d_cT->contiguous().clone() : Tensor();
  Tensor gm = at::zeros({N, H}, xp.options());
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_ln_scan_backward", [&] {
    using T_ = scalar_t;
    const T_* pwp[4] = {};
    for (size_t i = 0; i < pws.size(); ++i) pwp[i] = static_cast<const T_*>(pws[i]);
    const T_* rm = ptr<T_>(rec_mask);
    const uint8_t* mk = bptr(mask);
    const uint8_t* kh = bptr(keep_h);
    const uint8_t* kc = bptr(keep_c);
    const T_* sh = states_h.data_ptr<T_>();
    const T_* sc = lstm ? states_c->data_ptr<T_>() : nullptr;
    const T_ p = static_cast<T_>(zoneout);
    T_* dh_all = dhd.data_ptr<T_>();
    T_* dc_all = lstm ? dcc.data_ptr<T_>() : nullptr;
    T_* gmp = gm.data_ptr<T_>();
    const Gemm<T_> gemm(w_hh, false);
    NoDenormals guard;
    for (int64_t k = T - 1; k >= 0; --k) {
      const int64_t t = backwards ? T - 1 - k : k;
      const T_* dout = d_out.data_ptr<T_>() + t * N * H;
      const T_* a = acts.data_ptr<T_>() + k * N * A;
      T_* dx = dxp.data_ptr<T_>() + t * N * G;
      T_* dp = dhp.data_ptr<T_>() + k * N * G;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      const uint8_t* kht = kh ? kh + t * N * H : nullptr;
      const uint8_t* kct = kc ? kc + t * N * H : nullptr;
      over_rows(N, G, [&](int64_t n0, int64_t n1) {
        std::vector<T_> scratch(5 * H + Q);
        T_* dh_e = scratch.data();
        T_* zh = dh_e + H;
        T_* zc = zh + H;
        T_* tmp = zc + H;      // 2H
        T_* dq = tmp + 2 * H;  // Q: dcn (ln_lstm) / dhn (ln_gru), the LN_c / LN_hh output grad
        double* sums =
            acc.data_ptr<double>() + std::min<int64_t>(at::get_thread_num(), n_acc - 1) * W;
        for (int64_t n = n0; n < n1; ++n) {
          const int64_t r = n * H;
          T_* dh_ = dh_all + r;
          const T_* gm_ = gmp + r;
          if (mt && !mt[n]) {  // passed straight through this step
            for (int64_t j = 0; j < H; ++j) dh_[j] += rm ? rm[r + j] * gm_[j] : gm_[j];
            std::fill(dx + n * G, dx + (n + 1) * G, T_(0));
            std::fill(dp + n * G, dp + (n + 1) * G, T_(0));
            continue;
          }
          with_flags(zmode, rm != nullptr, [&](auto Zc, auto RMc) {
            constexpr int Z = decltype(Zc)::value;
            constexpr bool RM = decltype(RMc)::value;
            ln_bwd_prologue<Z, RM, T_>(H, p, dh_, dout + r, gm_, RM ? rm + r : nullptr,
                                       lstm ? dc_all + r : nullptr, Z == 1 ? kht + r : nullptr,
                                       Z == 1 && lstm ? kct + r : nullptr, dh_e, zh, zc);
          });
          if (lstm) {
            ln_lstm_bwd_row<T_>(H, pwp[0], pwp[2], pwp[3], a + n * A, sc + k * N * H + r, dh_e,
                                dc_all + r, dq, tmp, dx + n * G, dp + n * G);
            add_ln_grads<T_>(G, dx + n * G, a + n * A + 4 * H, sums, sums + G);
            add_ln_grads<T_>(H, dq, a + n * A + 8 * H, sums + 2 * G, sums + 2 * G + H);
            for (int64_t j = 0; j < H; ++j) {
              dc_all[r + j] += zc[j];
              dh_[j] = zh[j];
            }
          } else {
            ln_gru_bwd_row<T_>(H, pwp[0], a + n * A, sh + k * N * H + r, dh_e, dx + n * G, dq,
                               dp + n * G);
            add_ln_grads<T_>(G, dq, a + n * A + 4 * H, sums, sums + G);
            for (int64_t j = 0; j < H; ++j) dh_[j] = zh[j] + dh_e[j];
          }
        }
      });
      gemm(N, dp, G, gmp);
    }
  });
  Tensor d_h0 = rec_mask ? dhd + gm * *rec_mask : dhd + gm;
  Tensor hin = states_h.narrow(0, 0, T);
  if (rec_mask) hin = hin * *rec_mask;
  Tensor d_w = at::mm(dhp.reshape({T * N, G}).t(), hin.reshape({T * N, H}));
  std::vector<Tensor> res{dxp, d_w, d_h0, lstm ? dcc : xp.new_empty({0})};
  const Tensor d_pw = acc.sum(0).to(xp.scalar_type());  // pw order
  for (int64_t off : {int64_t(0), G}) res.push_back(d_pw.narrow(0, off, G));
  if (lstm) {
    for (int64_t off : {2 * G, 2 * G + H}) res.push_back(d_pw.narrow(0, off, H));
  }
  return res;
}
