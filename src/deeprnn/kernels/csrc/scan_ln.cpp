// Layer-norm kinds forward (training and the custom op's no-grad path) and inference; the
// equations and saved-activation layouts are in ln_common.h.
#include "ln_common.h"

namespace deeprnn_scan {
namespace {

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

// v = LN(v) = (v - mean) rstd * g + b in place, over the n features of one row
template <typename T>
void layer_norm_row(int64_t n, T* __restrict__ v, const T* __restrict__ g,
                    const T* __restrict__ b) {
  T mean_, rstd_;
  row_stats(v, n, mean_, rstd_);
  const T mean = mean_, rstd = rstd_;
  for (int64_t j = 0; j < n; ++j) v[j] = (v[j] - mean) * rstd * g[j] + b[j];
}

// y = LN(v) = (v - mean) rstd * g + b over the n features of one row, into y (the training
// scan's LN_ih: v is the saved raw projection, which the backward reads again)
template <typename T>
void layer_norm_row_into(int64_t n, const T* __restrict__ v, const T* __restrict__ g,
                         const T* __restrict__ b, T* __restrict__ y) {
  T mean_, rstd_;
  row_stats(v, n, mean_, rstd_);
  const T mean = mean_, rstd = rstd_;
  for (int64_t j = 0; j < n; ++j) y[j] = (v[j] - mean) * rstd * g[j] + b[j];
}

}  // namespace
}  // namespace deeprnn_scan

using namespace deeprnn_scan;

// xp (T, N, G): the input projections, LN_ih already applied when pw = (g_hh, b_hh, g_c, b_c)
// for ln_lstm, (g_hh, b_hh) for ln_gru; the RAW projections W_ih x when pw also ends with
// (g_ih, b_ih) (ln_input): then each row's LN_ih runs inside the step's pass, into a per-thread
// row buffer (the same arithmetic as ln_scan_infer), and nothing (T, N, G) more is written; the
// backward recomputes the row statistics from xp (ln_input_backward_row, scan_ln_backward.cpp).
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
  const bool ln_input = has_ln_input(lstm, pw, G, H);
  const auto pws = pw_ptrs(pw, pw.size(), G);
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
    const auto pwp = typed_ptrs<T_>(pws);
    const T_* g_ih = ln_input ? pwp[lstm ? 4 : 2] : nullptr;
    const T_* b_ih = ln_input ? pwp[lstm ? 5 : 3] : nullptr;
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
    over_row_blocks(N, [&](const Rows& rows) {  // one block per thread, or all rows (common.h)
      for (int64_t k = 0; k < T; ++k) {
        const int64_t t = backwards ? T - 1 - k : k;
        gemm(rows.m(), (rm ? hin : sh + k * N * H) + rows.n0 * H, H, hpp + rows.n0 * G);
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
          rows.each(G, [&](int64_t n0, int64_t n1) {
            std::vector<T_> xrow(ln_input ? G : 0);  // this thread's LN_ih(xp row)
            for (int64_t n = n0; n < n1; ++n) {
              const int64_t r = n * H;
              const T_* xn = x + n * G;
              if (ln_input) {
                layer_norm_row_into<T_>(G, xn, g_ih, b_ih, xrow.data());
                xn = xrow.data();
              }
              if (lstm) {
                ln_lstm_fwd_row<T_>(H, xn, hpp + n * G, pwp[0], pwp[1], pwp[2], pwp[3], cprev + r,
                                    hnew + r, cnew + r, a + n * A);
              } else {
                ln_gru_fwd_row<T_>(H, xn, hpp + n * G, pwp[0], pwp[1], hprev + r, hnew + r,
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
  });
  return {out, states_h, states_c, need_acts ? acts : xp.new_empty({0})};
}

// Inference for the LN kinds, as scan_infer in scan_forward.cpp: the input projection and its
// layer norm LN_ih inside the loop, S steps at a time into one reused buffer, ping-pong states.
// x (T, N, I) time-major, w_ih (G*H, I); pw = (g_hh, b_hh, g_c, b_c, g_ih, b_ih) for ln_lstm,
// (g_hh, b_hh, g_ih, b_ih) for ln_gru. Returns [out (T, N, H), h_T, c_T or (0,)].
std::vector<Tensor> ln_scan_infer(const std::string& kind, const Tensor& x_, const Tensor& w_ih,
                                  const Tensor& w_hh, const c10::optional<Tensor>& mask_,
                                  const Tensor& h0, const c10::optional<Tensor>& c0,
                                  std::vector<Tensor> pw, double zoneout, bool backwards) {
  const bool lstm = kind == "ln_lstm";
  TORCH_CHECK(lstm || kind == "ln_gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  TORCH_CHECK(!lstm || (c0.has_value() && c0->defined()), "deeprnn compiled scan: needs c0");
  const Tensor x = x_.contiguous();
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 3, "deeprnn compiled scan: x must be (T, N, I)");
  const int64_t T = x.size(0), N = x.size(1), I = x.size(2), H = h0.size(1);
  const int64_t G = (lstm ? 4 : 3) * H, A = lstm ? 9 * H + 2 : 7 * H + 1;
  check_infer(x, w_ih, w_hh, h0, G);
  for (auto& q : pw) q = q.contiguous();
  TORCH_CHECK(has_ln_input(lstm, pw, G, H), "deeprnn compiled scan: inference needs g_ih, b_ih");
  const auto pws = pw_ptrs(pw, pw.size(), G);
  const int zmode = zoneout > 0 ? 2 : 0;
  const int64_t S = step_block(T, N, G);
  Tensor xbuf = x.new_empty({S, N, G}), hp = x.new_empty({N, G}), acts = x.new_empty({N, A});
  Tensor hs = x.new_empty({2, N, H});
  hs[0].copy_(h0);
  Tensor cs = lstm ? x.new_empty({2, N, H}) : x.new_empty({0});
  if (lstm) cs[0].copy_(*c0);
  Tensor out = x.new_empty({T, N, H});
  auto mask = contig(mask_);
  const Tensor w_ih_t = w_ih.t().contiguous(), w_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "deeprnn_ln_scan_infer", [&] {
    using T_ = scalar_t;
    const auto q = typed_ptrs<T_>(pws);
    const T_* g_ih = q[lstm ? 4 : 2];
    const T_* b_ih = q[lstm ? 5 : 3];
    const Gemm<T_> proj(w_ih_t, true), gemm(w_t, true);
    const uint8_t* mk = bptr(mask);
    const T_ p = static_cast<T_>(zoneout);
    T_* xb = xbuf.data_ptr<T_>();
    T_* hpp = hp.data_ptr<T_>();
    T_* a = acts.data_ptr<T_>();
    T_* sh = hs.data_ptr<T_>();
    T_* sc = lstm ? cs.data_ptr<T_>() : nullptr;
    NoDenormals guard;
    const auto project = [&](int64_t steps, int64_t t_lo) {
      proj(steps * N, x.data_ptr<T_>() + t_lo * N * I, I, xb);
      over_rows(steps * N, G, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) layer_norm_row<T_>(G, xb + r * G, g_ih, b_ih);
      });
    };
    const auto step = [&](int64_t k, int64_t t, int64_t t_lo, const Rows& rows) {
      const int64_t prev = (k % 2) * N * H, next = ((k + 1) % 2) * N * H;
      gemm(rows.m(), sh + prev + rows.n0 * H, H, hpp + rows.n0 * G);
      const T_* xt = xb + (t - t_lo) * N * G;
      T_* o = out.data_ptr<T_>() + t * N * H;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      with_flags(zmode, false, [&](auto Zc, auto) {
        constexpr int Z = decltype(Zc)::value;
        rows.each(G, [&](int64_t n0, int64_t n1) {
          for (int64_t n = n0; n < n1; ++n) {
            const int64_t r = n * H;
            T_* cp = lstm ? sc + prev + r : nullptr;
            T_* cn = lstm ? sc + next + r : nullptr;
            if (lstm) {
              ln_lstm_fwd_row<T_>(H, xt + n * G, hpp + n * G, q[0], q[1], q[2], q[3], cp,
                                  sh + next + r, cn, a + n * A);
            } else {
              ln_gru_fwd_row<T_>(H, xt + n * G, hpp + n * G, q[0], q[1], sh + prev + r,
                                 sh + next + r, a + n * A);
            }
            finish_row<Z == 1 ? 0 : Z, false, T_>(H, p, mt ? mt[n] != 0 : true, sh + prev + r,
                                                  sh + next + r, cp, cn, o + r, nullptr, nullptr,
                                                  nullptr, nullptr);
          }
        });
      });
    };
    over_step_blocks(T, N, S, backwards, project, step);
  });
  return {out, hs[T % 2].clone(), lstm ? cs[T % 2].clone() : x.new_empty({0})};
}
