// Layer-norm kinds: the hand-written BPTT of scan_ln.cpp's forward (ln_common.h has the
// equations). Backward through LN: dv = rstd (dy - mean(dy) - xhat mean(dy xhat)), per row.
#include "ln_common.h"

namespace deeprnn_scan {
namespace {

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

// The ln_input scans' LN_ih backward of one row, in place: dy (n) holds the gradient at
// LN_ih's output y = xhat * g + b on entry, at its input v (the raw projection row) on exit.
// xhat = (v - mean) rstd from the statistics recomputed from v (the forward's row_stats on the
// same values: the same mean and rstd), dg += dy xhat, db += dy (db null: not summed here),
// dv = rstd (dy g - mean(dy g) - xhat mean(dy g xhat)). xhat (n) is scratch.
template <typename T>
__attribute__((noinline)) void ln_input_backward_row(int64_t n, const T* __restrict__ v,
                                                     const T* __restrict__ g, T* __restrict__ dy,
                                                     T* __restrict__ xhat, double* __restrict__ dg,
                                                     double* __restrict__ db) {
  T mean_, rstd_;
  row_stats(v, n, mean_, rstd_);
  const T mean = mean_, rstd = rstd_;
  for (int64_t j = 0; j < n; ++j) xhat[j] = (v[j] - mean) * rstd;
  if (db) {
    add_ln_grads<T>(n, dy, xhat, dg, db);
  } else {
    for (int64_t j = 0; j < n; ++j) dg[j] += static_cast<double>(dy[j]) * xhat[j];
  }
  const T s1 = lane_sum<T>(n, [&](int64_t j) { return dy[j] * g[j]; }) / static_cast<T>(n);
  const T s2 = lane_sum<T>(n, [&](int64_t j) { return dy[j] * g[j] * xhat[j]; }) / static_cast<T>(n);
  for (int64_t j = 0; j < n; ++j) dy[j] = rstd * (dy[j] * g[j] - s1 - xhat[j] * s2);
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

// Returns [dxp, dW_hh, dh0, dc0 or (0,), d_pw...] (pw order). With ln_input (pw ends with
// g_ih, b_ih; xp the raw projections, see ln_scan_forward) dxp is the gradient at the raw
// projections, LN_ih's backward done in the pass, and d_pw ends with d g_ih, d b_ih.
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
  const bool ln_input = has_ln_input(lstm, pw, G, H);
  const auto pws = pw_ptrs(pw, pw.size(), G);
  const Tensor xr = ln_input ? xp.contiguous() : Tensor();  // the raw projections, read again
  Tensor dxp = at::empty_like(xp, at::MemoryFormat::Contiguous);
  Tensor dhp = at::empty({T, N, G}, xp.options());  // gradient at W_hh hin, processing order
  // gradients of the LN gains and shifts, [g_hh | b_hh (| g_c | b_c) (| g_ih | b_ih)] (pw
  // order), summed over the steps and rows inside the pass, one double accumulator per thread,
  // reduced once at the end: no pass over (T, N, G) tensors. In double, the sums agree whatever
  // the split of rows over threads far below the float result's rounding. ln_lstm's b_ih
  // gradient is b_hh's (both shifts add to the same gate pre-activations): copied, not summed.
  const int64_t Q = lstm ? H : G, W0 = 2 * G + (lstm ? 2 * H : 0);
  const int64_t W = W0 + (ln_input ? 2 * G : 0);
  const int64_t n_acc = std::max<int64_t>(1, at::get_num_threads());
  Tensor acc = at::zeros({n_acc, W}, xp.options().dtype(at::kDouble));
  Tensor dhd = d_hT.contiguous().clone();
  Tensor dcc = lstm ? d_cT->contiguous().clone() : Tensor();
  Tensor gm = at::zeros({N, H}, xp.options());
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_ln_scan_backward", [&] {
    using T_ = scalar_t;
    const auto pwp = typed_ptrs<T_>(pws);
    const T_* g_ih = ln_input ? pwp[lstm ? 4 : 2] : nullptr;
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
    over_row_blocks(N, [&](const Rows& rows) {  // one block per thread, or all rows (common.h)
      for (int64_t k = T - 1; k >= 0; --k) {
        const int64_t t = backwards ? T - 1 - k : k;
        const T_* dout = d_out.data_ptr<T_>() + t * N * H;
        const T_* a = acts.data_ptr<T_>() + k * N * A;
        T_* dx = dxp.data_ptr<T_>() + t * N * G;
        T_* dp = dhp.data_ptr<T_>() + k * N * G;
        const uint8_t* mt = mk ? mk + t * N : nullptr;
        const uint8_t* kht = kh ? kh + t * N * H : nullptr;
        const uint8_t* kct = kc ? kc + t * N * H : nullptr;
        const T_* xrt = ln_input ? xr.data_ptr<T_>() + t * N * G : nullptr;
        rows.each(G, [&](int64_t n0, int64_t n1) {
          std::vector<T_> scratch(5 * H + Q + (ln_input ? G : 0));
          T_* dh_e = scratch.data();
          T_* zh = dh_e + H;
          T_* zc = zh + H;
          T_* tmp = zc + H;      // 2H
          T_* dq = tmp + 2 * H;  // Q: dcn (ln_lstm) / dhn (ln_gru), the LN_c / LN_hh output grad
          T_* xhat_ih = dq + Q;  // G with ln_input
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
            if (ln_input) {  // dx: at LN_ih's output -> at the raw projection
              ln_input_backward_row<T_>(G, xrt + n * G, g_ih, dx + n * G, xhat_ih, sums + W0,
                                        lstm ? nullptr : sums + W0 + G);
            }
          }
        });
        gemm(rows.m(), dp + rows.n0 * G, G, gmp + rows.n0 * H);
      }
    });
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
  if (ln_input) {
    res.push_back(d_pw.narrow(0, W0, G));
    res.push_back(lstm ? d_pw.narrow(0, G, G).clone() : d_pw.narrow(0, W0 + G, G));
  }
  return res;
}
