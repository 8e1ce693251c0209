// The whole time loop of one recurrent layer on CPU: forward and hand-written BPTT.
//
// Per step: ONE GEMM into a preallocated buffer (hp = hin W_hh^T, (N, H) x (H, G*H); Gemm in
// common.h, MKL with the weight packed once) and ONE fused elementwise pass over the rows that adds
// xp_t (+ b_hh), applies the gate nonlinearities, the cell update, zoneout (training keep-masks or
// the eval lerp), the time-mask carry, zeroes out at masked steps and writes the next GEMM's input
// hin = h_t * rec_mask. The backward walks the steps in reverse with one GEMM per step
// (dh_in = dhp_t W_hh, (N, G*H) x (G*H, H)) and one fused pass; dW_hh is one GEMM over all steps.
// Threads (common.h, over_row_blocks): each thread runs this whole loop over its own block of
// batch rows with single-threaded GEMMs, no barrier per step; one block: the shared path.
//
// Kinds (gate order as torch; the saved activation layout is the one of deeprnn.kernels.
// _pointwise, act_width(kind, H) columns):
//   lstm: a = xp_t + W_hh hin (+ b_hh); i, f, o = sigmoid, g = tanh; c = f c' + i g;
//         h = o tanh(c); act = [i, f, g, o, tanh(c)]                                   (5H)
//   gru (reset-after): hp = W_hh hin + b_hh; r = s(x_r + hp_r), z = s(x_z + hp_z),
//         n = tanh(x_n + r hp_n), h = n + z (h' - n); act = [r, z, n, hp_n]             (4H)
// Shapes (time-major): xp (T, N, G*H), w_hh (G*H, H), states (T+1, N, H) in processing order
// (k-th step processed is t = backwards ? T-1-k : k), mask (T, N) bool, keep_* (T, N, H) bool,
// rec_mask (N, H).
#include "common.h"

namespace deeprnn_scan {

struct Step {  // sizes and zoneout mode of a scan
  int64_t N, H, G, A;
  int zmode;
  double p;
};

// hin of a masked row: the old state times the recurrent-dropout mask
template <typename T>
void hold_hin(int64_t H, const T* old, const T* rm, T* hin) {
  for (int64_t j = 0; j < H; ++j) hin[j] = old[j] * rm[j];
}

// training zoneout as a second loop over the row (in L1 by then): one loop with the byte
// keep-masks and all the gate math does not vectorise with GCC
template <bool RM, typename T>
void keep_mix(int64_t H, const T* __restrict__ hp, T* __restrict__ hn, T* __restrict__ out,
              const uint8_t* __restrict__ kh, const T* __restrict__ rm, T* __restrict__ hin,
              const T* __restrict__ cp, T* __restrict__ cn, const uint8_t* __restrict__ kc) {
  for (int64_t j = 0; j < H; ++j) {
    const T h = hn[j] + static_cast<T>(kh[j]) * (hp[j] - hn[j]);
    hn[j] = h;
    out[j] = h;
    if constexpr (RM) hin[j] = h * rm[j];
  }
  if (cn) {
    for (int64_t j = 0; j < H; ++j) cn[j] += static_cast<T>(kc[j]) * (cp[j] - cn[j]);
  }
}

// one batch row of a step (the time mask is applied afterwards); restrict-qualified
// parameters (and noinline, which keeps them restrict) so that the loop vectorises. ACTS false:
// no backward to come, the activations are not written at all
// H units of a row; sx: the gate stride of x, b and a (the layer's H), sg: of g (the GEMM
// output: H, or a unit block's width)
template <int Z, bool RM, typename T, bool ACTS>
__attribute__((noinline)) void lstm_fwd_row(
    int64_t H, int64_t sx, int64_t sg, T p, const T* __restrict__ x, const T* __restrict__ g,
    const T* __restrict__ b,
    const T* __restrict__ hp, const T* __restrict__ cp, T* __restrict__ hn, T* __restrict__ cn,
    T* __restrict__ a, T* __restrict__ out, const uint8_t* __restrict__ kh,
    const uint8_t* __restrict__ kc, const T* __restrict__ rm, T* __restrict__ hin) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigm(x[j] + g[j] + b[j]);
    const T f = sigm(x[sx + j] + g[sg + j] + b[sx + j]);
    const T gg = tanh_(x[2 * sx + j] + g[2 * sg + j] + b[2 * sx + j]);
    const T o = sigm(x[3 * sx + j] + g[3 * sg + j] + b[3 * sx + j]);
    T c = f * cp[j] + i * gg;
    const T tc = tanh_(c);
    T h = o * tc;
    if constexpr (ACTS) {
      a[j] = i;
      a[sx + j] = f;
      a[2 * sx + j] = gg;
      a[3 * sx + j] = o;
      a[4 * sx + j] = tc;
    }
    h = zone<Z == 1 ? 0 : Z>(h, hp[j], uint8_t(0), p);
    c = zone<Z == 1 ? 0 : Z>(c, cp[j], uint8_t(0), p);
    hn[j] = h;
    cn[j] = c;
    if constexpr (Z != 1) {
      out[j] = h;
      if constexpr (RM) hin[j] = h * rm[j];
    }
  }
  if constexpr (Z == 1) keep_mix<RM, T>(H, hp, hn, out, kh, rm, hin, cp, cn, kc);
}

template <int Z, bool RM, typename T, bool ACTS>
__attribute__((noinline)) void gru_fwd_row(int64_t H, int64_t sx, int64_t sg, T p,
                                           const T* __restrict__ x, const T* __restrict__ g,
                                           const T* __restrict__ b,
                                           const T* __restrict__ hp, T* __restrict__ hn,
                                           T* __restrict__ a, T* __restrict__ out,
                                           const uint8_t* __restrict__ kh, const T* __restrict__ rm,
                                           T* __restrict__ hin) {
  for (int64_t j = 0; j < H; ++j) {
    const T gn = g[2 * sg + j] + b[2 * sx + j];
    const T r = sigm(x[j] + g[j] + b[j]);
    const T z = sigm(x[sx + j] + g[sg + j] + b[sx + j]);
    const T nn = tanh_(x[2 * sx + j] + r * gn);
    T h = nn + z * (hp[j] - nn);
    if constexpr (ACTS) {
      a[j] = r;
      a[sx + j] = z;
      a[2 * sx + j] = nn;
      a[3 * sx + j] = gn;
    }
    h = zone<Z == 1 ? 0 : Z>(h, hp[j], uint8_t(0), p);
    hn[j] = h;
    if constexpr (Z != 1) {
      out[j] = h;
      if constexpr (RM) hin[j] = h * rm[j];
    }
  }
  if constexpr (Z == 1) keep_mix<RM, T>(H, hp, hn, out, kh, rm, hin, nullptr, nullptr, nullptr);
}

// The rows [n0, n1) of one step over the units u = [u0, u0 + hu) (all H: u0 0, hu H); act null:
// no activations kept (inference). hp: the GEMM output of these units, row stride ldg (G, or a
// unit block's gates * hu; gate stride ldg / gates). Every other pointer is the layer's own.
template <typename T>
void lstm_fwd_pass(const Step& s, int64_t n0, int64_t n1, const Units& u, int64_t ldg,
                   const T* xp, const T* hp, const T* b, const T* hprev, const T* cprev, T* hnew,
                   T* cnew, T* act, T* out, const uint8_t* mask, const uint8_t* kh,
                   const uint8_t* kc, const T* rm, T* hin) {
  const int64_t H = s.H, G = s.G, A = s.A, u0 = u.u0, hu = u.n();
  const T p = static_cast<T>(s.p);
  with_flags(s.zmode, rm != nullptr, [&](auto Zc, auto RMc) {
    constexpr int Z = decltype(Zc)::value;
    constexpr bool RM = decltype(RMc)::value;
    const auto row = act ? &lstm_fwd_row<Z, RM, T, true> : &lstm_fwd_row<Z, RM, T, false>;
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t r = n * H + u0;
      row(hu, H, ldg / 4, p, xp + n * G + u0, hp + n * ldg, b + u0, hprev + r, cprev + r,
          hnew + r, cnew + r, act ? act + n * A + u0 : nullptr, out + r,
          Z == 1 ? kh + r : nullptr, Z == 1 ? kc + r : nullptr, RM ? rm + r : nullptr,
          RM ? hin + r : nullptr);
      if (mask && !mask[n]) {
        hold(hu, hprev + r, hnew + r, out + r);
        std::copy(cprev + r, cprev + r + hu, cnew + r);
        if (RM) hold_hin(hu, hprev + r, rm + r, hin + r);
      }
    }
  });
}

template <typename T>
void gru_fwd_pass(const Step& s, int64_t n0, int64_t n1, const Units& u, int64_t ldg,
                  const T* xp, const T* hp, const T* b, const T* hprev, T* hnew, T* act, T* out,
                  const uint8_t* mask, const uint8_t* kh, const T* rm, T* hin) {
  const int64_t H = s.H, G = s.G, A = s.A, u0 = u.u0, hu = u.n();
  const T p = static_cast<T>(s.p);
  with_flags(s.zmode, rm != nullptr, [&](auto Zc, auto RMc) {
    constexpr int Z = decltype(Zc)::value;
    constexpr bool RM = decltype(RMc)::value;
    const auto row = act ? &gru_fwd_row<Z, RM, T, true> : &gru_fwd_row<Z, RM, T, false>;
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t r = n * H + u0;
      row(hu, H, ldg / 3, p, xp + n * G + u0, hp + n * ldg, b + u0, hprev + r, hnew + r,
          act ? act + n * A + u0 : nullptr, out + r, Z == 1 ? kh + r : nullptr,
          RM ? rm + r : nullptr, RM ? hin + r : nullptr);
      if (mask && !mask[n]) {
        hold(hu, hprev + r, hnew + r, out + r);
        if (RM) hold_hin(hu, hprev + r, rm + r, hin + r);
      }
    }
  });
}

void check(const Tensor& xp, const Tensor& w_hh, const Tensor& h0, int64_t G_per_H) {
  TORCH_CHECK(xp.device().is_cpu(), "deeprnn compiled scan: CPU tensors only");
  TORCH_CHECK(xp.dim() == 3, "deeprnn compiled scan: xp must be (T, N, G*H), got ", xp.sizes());
  const int64_t H = h0.size(1);
  TORCH_CHECK(xp.size(2) == G_per_H * H && w_hh.size(0) == G_per_H * H && w_hh.size(1) == H,
              "deeprnn compiled scan: shapes disagree: xp ", xp.sizes(), ", w_hh ", w_hh.sizes(),
              ", h0 ", h0.sizes());
  TORCH_CHECK(w_hh.scalar_type() == xp.scalar_type() && h0.scalar_type() == xp.scalar_type(),
              "deeprnn compiled scan: xp, w_hh and h0 must share one dtype");
}

// the inference scans' inputs: x (T, N, I), w_ih (G, I), w_hh (G, H), h0 (N, H), one dtype
void check_infer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& h0,
                 int64_t G) {
  const int64_t N = x.size(1), I = x.size(2), H = h0.size(1);
  TORCH_CHECK(w_ih.dim() == 2 && w_ih.size(0) == G && w_ih.size(1) == I && w_hh.size(0) == G &&
                  w_hh.size(1) == H && h0.size(0) == N,
              "deeprnn compiled scan: shapes disagree: x ", x.sizes(), ", w_ih ", w_ih.sizes(),
              ", w_hh ", w_hh.sizes(), ", h0 ", h0.sizes());
  TORCH_CHECK(w_ih.scalar_type() == x.scalar_type() && w_hh.scalar_type() == x.scalar_type() &&
                  h0.scalar_type() == x.scalar_type(),
              "deeprnn compiled scan: x, weights and h0 must share one dtype");
}

}  // namespace deeprnn_scan

using namespace deeprnn_scan;

// Returns [out (T, N, H), states_h (T+1, N, H), states_c (T+1, N, H) or (0,), acts (T, N, A)
// or (0,) when need_acts is false (inference: then none are written)].
std::vector<Tensor> scan_forward(const std::string& kind, const Tensor& xp_, const Tensor& w_hh,
                                 const c10::optional<Tensor>& b_hh_,
                                 const c10::optional<Tensor>& rec_mask_,
                                 const c10::optional<Tensor>& mask_,
                                 const c10::optional<Tensor>& keep_h_,
                                 const c10::optional<Tensor>& keep_c_, const Tensor& h0,
                                 const c10::optional<Tensor>& c0, double zoneout, bool training,
                                 bool backwards, bool need_acts) {
  const bool lstm = kind == "lstm";
  TORCH_CHECK(lstm || kind == "gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  const int64_t gates = lstm ? 4 : 3;
  check(xp_, w_hh, h0, gates);
  TORCH_CHECK(!lstm || (c0.has_value() && c0->defined()), "deeprnn compiled scan: lstm needs c0");
  const Tensor xp = xp_.contiguous();
  auto b_hh = contig(b_hh_), rec_mask = contig(rec_mask_), mask = contig(mask_);
  auto keep_h = contig(keep_h_), keep_c = contig(keep_c_);
  const int64_t T = xp.size(0), N = xp.size(1), G = xp.size(2), H = h0.size(1);
  const int64_t A = (lstm ? 5 : 4) * H;
  const int zmode = zoneout > 0 ? (training ? 1 : 2) : 0;
  TORCH_CHECK(zmode != 1 || (keep_h.has_value() && (!lstm || keep_c.has_value())),
              "deeprnn compiled scan: zoneout in training needs its keep-masks");
  Step s{N, H, G, A, zmode, zoneout};
  Tensor states_h = xp.new_empty({T + 1, N, H});
  states_h[0].copy_(h0);
  Tensor states_c = lstm ? xp.new_empty({T + 1, N, H}) : xp.new_empty({0});
  if (lstm) states_c[0].copy_(*c0);
  // without a backward to come, the activations of each step go to one (N, A) scratch buffer
  Tensor acts = xp.new_empty({need_acts ? T : 0, N, A});
  Tensor out = xp.new_empty({T, N, H});
  Tensor hp = xp.new_empty({N, G});
  const Tensor w_t = w_hh.t().contiguous();  // (H, G*H): contiguous right operand
  Tensor hin_buf;
  if (rec_mask) hin_buf = states_h[0] * *rec_mask;
  if (!b_hh) b_hh = at::zeros({G}, xp.options());  // branch-free pass: a zero bias
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_scan_forward", [&] {
    using T_ = scalar_t;
    const T_* b = ptr<T_>(b_hh);
    const T_* rm = ptr<T_>(rec_mask);
    const uint8_t* mk = bptr(mask);
    const uint8_t* kh = bptr(keep_h);
    const uint8_t* kc = bptr(keep_c);
    T_* sh = states_h.data_ptr<T_>();
    T_* sc = lstm ? states_c.data_ptr<T_>() : nullptr;
    T_* hin = rm ? hin_buf.data_ptr<T_>() : nullptr;
    T_* hpp = hp.data_ptr<T_>();
    NoDenormals guard;
    const auto pass = [&](int64_t k, int64_t r0, int64_t r1, const Units& u, int64_t ldg,
                          const T_* g, T_* hin_next) {
      const int64_t t = backwards ? T - 1 - k : k;
      const T_* x = xp.data_ptr<T_>() + t * N * G;
      T_* a = need_acts ? acts.data_ptr<T_>() + k * N * A : nullptr;
      T_* o = out.data_ptr<T_>() + t * N * H;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      const uint8_t* kht = kh ? kh + t * N * H : nullptr;
      const uint8_t* kct = kc ? kc + t * N * H : nullptr;
      if (lstm) {
        lstm_fwd_pass<T_>(s, r0, r1, u, ldg, x, g, b, sh + k * N * H, sc + k * N * H,
                          sh + (k + 1) * N * H, sc + (k + 1) * N * H, a, o, mt, kht, kct, rm,
                          hin_next);
      } else {
        gru_fwd_pass<T_>(s, r0, r1, u, ldg, x, g, b, sh + k * N * H, sh + (k + 1) * N * H, a, o,
                         mt, kht, rm, hin_next);
      }
    };
    if (const int64_t P = unit_blocks(N, H); P > 1) {  // unit blocks, a barrier per step
      const UnitPlan<T_> plan(w_t, gates, H, N, P);
      // recurrent dropout: hin in two buffers (step k reads one, writes the other)
      Tensor hin2 = rm ? at::stack({hin_buf, hin_buf}) : Tensor();
      T_* h2 = rm ? hin2.data_ptr<T_>() : nullptr;
      over_unit_blocks(P, [&](int64_t b0, int64_t b1, SpinBarrier& barrier) {
        for (int64_t k = 0; k < T; ++k) {
          const T_* src = rm ? h2 + (k % 2) * N * H : sh + k * N * H;
          for (int64_t blk = b0; blk < b1; ++blk) {
            T_* g = plan.gemm(blk, src);
            pass(k, 0, N, plan.units[blk], plan.ld(blk), g, rm ? h2 + ((k + 1) % 2) * N * H : nullptr);
          }
          barrier.arrive(b1 - b0);
        }
      });
    } else {
      const Gemm<T_> gemm(w_t, true);
      const Units all{0, H};
      over_row_blocks(N, [&](const Rows& rows) {  // one block per thread, or all rows (common.h)
        for (int64_t k = 0; k < T; ++k) {
          gemm(rows.m(), (rm ? hin : sh + k * N * H) + rows.n0 * H, H, hpp + rows.n0 * G);
          rows.each(G, [&](int64_t r0, int64_t r1) { pass(k, r0, r1, all, G, hpp, hin); });
        }
      });
    }
  });
  return {out, states_h, states_c, need_acts ? acts : xp.new_empty({0})};
}

// Inference, no backward to come (lstm, gru): the input projection inside the loop, S steps at a
// time into one reused (S, N, G*H) buffer of about 4 MB (no (T, N, G*H) tensor written out and
// read back), and the states in two ping-pong buffers (no (T+1, N, H) ones). x (T, N, I)
// time-major, w_ih (G*H, I). Zoneout is the eval lerp; recurrent dropout is off in eval.
// Returns [out (T, N, H), h_T, c_T or (0,)].
std::vector<Tensor> scan_infer(const std::string& kind, const Tensor& x_, const Tensor& w_ih,
                               const c10::optional<Tensor>& b_ih_, const Tensor& w_hh,
                               const c10::optional<Tensor>& b_hh_,
                               const c10::optional<Tensor>& mask_, const Tensor& h0,
                               const c10::optional<Tensor>& c0, double zoneout, bool backwards) {
  const bool lstm = kind == "lstm";
  TORCH_CHECK(lstm || kind == "gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  TORCH_CHECK(!lstm || (c0.has_value() && c0->defined()), "deeprnn compiled scan: lstm needs c0");
  const Tensor x = x_.contiguous();
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 3, "deeprnn compiled scan: x must be (T, N, I)");
  const int64_t T = x.size(0), N = x.size(1), I = x.size(2), H = h0.size(1);
  const int64_t G = (lstm ? 4 : 3) * H, A = (lstm ? 5 : 4) * H;
  check_infer(x, w_ih, w_hh, h0, G);
  Step s{N, H, G, A, zoneout > 0 ? 2 : 0, zoneout};
  const int64_t S = step_block(T, N, G);
  Tensor xbuf = x.new_empty({S, N, G}), hp = x.new_empty({N, G});
  Tensor hs = x.new_empty({2, N, H});
  hs[0].copy_(h0);
  Tensor cs = lstm ? x.new_empty({2, N, H}) : x.new_empty({0});
  if (lstm) cs[0].copy_(*c0);
  Tensor out = x.new_empty({T, N, H});
  auto b_ih = contig(b_ih_), b_hh = contig(b_hh_), mask = contig(mask_);
  if (!b_hh) b_hh = at::zeros({G}, x.options());
  const Tensor w_ih_t = w_ih.t().contiguous(), w_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "deeprnn_scan_infer", [&] {
    using T_ = scalar_t;
    const Gemm<T_> proj(w_ih_t, true);
    const T_* b = b_hh->data_ptr<T_>();
    const T_* bi = ptr<T_>(b_ih);
    const uint8_t* mk = bptr(mask);
    T_* xb = xbuf.data_ptr<T_>();
    T_* hpp = hp.data_ptr<T_>();
    T_* sh = hs.data_ptr<T_>();
    T_* sc = lstm ? cs.data_ptr<T_>() : nullptr;
    NoDenormals guard;
    const auto project = [&](int64_t steps, int64_t t_lo) {
      proj(steps * N, x.data_ptr<T_>() + t_lo * N * I, I, xb);
      if (!bi) return;
      for (int64_t r = 0; r < steps * N; ++r) {
        T_* __restrict__ row = xb + r * G;
        for (int64_t j = 0; j < G; ++j) row[j] += bi[j];
      }
    };
    // step k (time t) of the block starting at t_lo, rows [r0, r1), units u; g: its GEMM output
    const auto pass = [&](int64_t k, int64_t t, int64_t t_lo, int64_t r0, int64_t r1,
                          const Units& u, int64_t ldg, const T_* g) {
      const int64_t prev = (k % 2) * N * H, next = ((k + 1) % 2) * N * H;
      const T_* xt = xb + (t - t_lo) * N * G;
      T_* o = out.data_ptr<T_>() + t * N * H;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      if (lstm) {
        lstm_fwd_pass<T_>(s, r0, r1, u, ldg, xt, g, b, sh + prev, sc + prev, sh + next,
                          sc + next, nullptr, o, mt, nullptr, nullptr, nullptr, nullptr);
      } else {
        gru_fwd_pass<T_>(s, r0, r1, u, ldg, xt, g, b, sh + prev, sh + next, nullptr, o, mt,
                         nullptr, nullptr, nullptr);
      }
    };
    if (const int64_t P = unit_blocks(N, H); P > 1) {  // unit blocks, a barrier per step
      const UnitPlan<T_> plan(w_t, G / H, H, N, P);
      for (int64_t k0 = 0; k0 < T; k0 += S) {
        const int64_t steps = std::min(S, T - k0);
        const int64_t t_lo = backwards ? T - k0 - steps : k0;
        project(steps, t_lo);
        over_unit_blocks(P, [&](int64_t b0, int64_t b1, SpinBarrier& barrier) {
          for (int64_t k = k0; k < k0 + steps; ++k) {
            for (int64_t blk = b0; blk < b1; ++blk) {
              const T_* g = plan.gemm(blk, sh + (k % 2) * N * H);
              pass(k, backwards ? T - 1 - k : k, t_lo, 0, N, plan.units[blk], plan.ld(blk), g);
            }
            barrier.arrive(b1 - b0);
          }
        });
      }
    } else {
      const Gemm<T_> gemm(w_t, true);  // the whole weight, packed once (unit blocks pack slices)
      const Units all{0, H};
      const auto step = [&](int64_t k, int64_t t, int64_t t_lo, const Rows& rows) {
        gemm(rows.m(), sh + (k % 2) * N * H + rows.n0 * H, H, hpp + rows.n0 * G);
        rows.each(G, [&](int64_t n0, int64_t n1) { pass(k, t, t_lo, n0, n1, all, G, hpp); });
      };
      over_step_blocks(T, N, S, backwards, project, step);
    }
  });
  return {out, hs[T % 2].clone(), lstm ? cs[T % 2].clone() : x.new_empty({0})};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "deeprnn: compiled CPU time loops (lstm, gru, ln_lstm, ln_gru) forward and backward";
  m.def("scan_forward", &scan_forward, "time loop forward (lstm, gru)");
  m.def("scan_infer", &scan_infer, "inference with the input projection inside (lstm, gru)");
  m.def("ln_scan_infer", &ln_scan_infer, "the same for ln_lstm, ln_gru (LN_ih inside too)");
  m.def("scan_backward", &scan_backward, "time loop backward, BPTT (lstm, gru)");
  m.def("ln_scan_forward", &ln_scan_forward, "time loop forward (ln_lstm, ln_gru)");
  m.def("ln_scan_backward", &ln_scan_backward, "time loop backward, BPTT (ln_lstm, ln_gru)");
  m.def("row_blocks", &deeprnn_scan::row_blocks,
        "how many row blocks (threads, each its own time loop) a scan of N rows runs here now");
  m.def("unit_blocks", &deeprnn_scan::unit_blocks,
        "how many unit blocks (threads, each a slice of the units, a barrier per step) an lstm or "
        "gru scan of N rows and H units runs here now (1: the row-block scheme instead)");
}
