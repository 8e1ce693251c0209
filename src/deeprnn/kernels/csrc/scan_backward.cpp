// Backpropagation through time of the compiled scans (see scan_forward.cpp for the forward).
//
// Walks k = T-1 .. 0 (t = backwards ? T-1-k : k). The incoming gradient of h_k+1 is kept in
// two parts, the direct part dhd (mask pass-through, zoneout, the GRU's z path) and the GEMM
// part gm = dhp_{k+1} W_hh (times rec_mask), summed at the start of the next pass, so each step
// is ONE fused elementwise pass plus ONE GEMM:
//   dh = dhd + rec_mask * gm + d_out_t           (d_out only at unmasked rows)
//   masked row: everything passes straight through, dxp_t = 0
//   zoneout: training  dprev += dh * keep, dh *= !keep;  eval  dprev += p dh, dh *= 1 - p
//   lstm: dc += dh o (1 - tanh(c)^2);
//         dxp = [dc g i(1-i), dc c' f(1-f), dc i (1-g^2), dh tanh(c) o(1-o)];  dc' = dc f
//   gru:  dn = dh (1-z)(1-n^2), dz = dh (h'-n) z(1-z), dr = dn hp_n r(1-r);
//         dxp = [dr, dz, dn], dhp = [dr, dz, dn r], dh' (direct) = dh z
//   gm = dhp_t W_hh   ((N, G*H) x (G*H, H))
// Afterwards dW_hh = sum_t dhp_t^T hin_t as ONE (G*H, T*N) x (T*N, H) GEMM, db_hh = sum dhp.
// Returns [dxp (T, N, G*H), dW_hh, db_hh or (0,), dh0, dc0 or (0,)].
#include "common.h"

namespace deeprnn_scan {
namespace {

struct Back {
  int64_t N, H, G, A;
  int zmode;
  double p;
};

// zoneout split of an incoming gradient: returns the part kept by the old state (zoneout
// path) and leaves in d the part that flows through the cell
template <int Z, typename T>
DEEPRNN_INLINE T zone_grad(T& d, uint8_t keep, T p) {
  if constexpr (Z == 1) {
    const T z = static_cast<T>(keep) * d;  // exact: keep is 0 or 1
    d -= z;
    return z;
  } else if constexpr (Z == 2) {
    const T z = p * d;
    d *= T(1) - p;
    return z;
  } else {
    return T(0);
  }
}

template <bool RM, typename T>
inline void pass_through(T* dh, const T* gm, const T* rm, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    if constexpr (RM) {
      dh[j] += rm[j] * gm[j];
    } else {
      dh[j] += gm[j];
    }
  }
}

// one batch row of a step; restrict-qualified parameters so that the loop vectorises
template <int Z, bool RM, typename T>
__attribute__((noinline)) void lstm_bwd_row(int64_t H, int64_t sx, T p, const T* __restrict__ d_o,
                                            const T* __restrict__ gm, const T* __restrict__ rm,
                                            T* __restrict__ dhd, T* __restrict__ dcc,
                                            const T* __restrict__ a, const T* __restrict__ cp,
                                            T* __restrict__ dx, const uint8_t* __restrict__ kh,
                                            const uint8_t* __restrict__ kc) {
  for (int64_t j = 0; j < H; ++j) {
    T dh = dhd[j] + d_o[j];
    if constexpr (RM) {
      dh += rm[j] * gm[j];
    } else {
      dh += gm[j];
    }
    T dc = dcc[j];
    const T zh = zone_grad<Z>(dh, Z == 1 ? kh[j] : uint8_t(0), p);
    const T zc = zone_grad<Z>(dc, Z == 1 ? kc[j] : uint8_t(0), p);
    const T i = a[j], f = a[sx + j], g = a[2 * sx + j], o = a[3 * sx + j], tc = a[4 * sx + j];
    dc += dh * o * (T(1) - tc * tc);
    dx[j] = dc * g * i * (T(1) - i);
    dx[sx + j] = dc * cp[j] * f * (T(1) - f);
    dx[2 * sx + j] = dc * i * (T(1) - g * g);
    dx[3 * sx + j] = dh * tc * o * (T(1) - o);
    dcc[j] = zc + dc * f;
    dhd[j] = zh;
  }
}

template <int Z, bool RM, typename T>
__attribute__((noinline)) void gru_bwd_row(int64_t H, int64_t sx, T p, const T* __restrict__ d_o,
                                           const T* __restrict__ gm, const T* __restrict__ rm,
                                           T* __restrict__ dhd, const T* __restrict__ a,
                                           const T* __restrict__ hp, T* __restrict__ dx,
                                           T* __restrict__ dq, const uint8_t* __restrict__ kh) {
  for (int64_t j = 0; j < H; ++j) {
    T dh = dhd[j] + d_o[j];
    if constexpr (RM) {
      dh += rm[j] * gm[j];
    } else {
      dh += gm[j];
    }
    const T zh = zone_grad<Z>(dh, Z == 1 ? kh[j] : uint8_t(0), p);
    const T r = a[j], z = a[sx + j], nn = a[2 * sx + j], hn = a[3 * sx + j];
    const T dn = dh * (T(1) - z) * (T(1) - nn * nn);
    const T dz = dh * (hp[j] - nn) * z * (T(1) - z);
    const T dr = dn * hn * r * (T(1) - r);
    dx[j] = dr;
    dx[sx + j] = dz;
    dx[2 * sx + j] = dn;
    dq[j] = dr;
    dq[sx + j] = dz;
    dq[2 * sx + j] = dn * r;
    dhd[j] = zh + dh * z;
  }
}

// the gates' columns of the units u in row n of a (N, G) gradient set to zero
template <typename T>
inline void zero_units(T* row, int64_t gates, int64_t H, const Units& u) {
  for (int64_t k = 0; k < gates; ++k) std::fill(row + k * H + u.u0, row + k * H + u.u1, T(0));
}

// The rows [n0, n1) of one step over the units u = [u0, u0 + hu) (all H: u0 0, hu H); gm: the
// GEMM part of dh for these units, row stride ldm (H, or hu for a unit block).
template <typename T>
void lstm_bwd_pass(const Back& s, int64_t n0, int64_t n1, const Units& u, int64_t ldm,
                   const T* dout, const T* gm, const T* rm, T* dhd, T* dcc, const T* act,
                   const T* cprev, T* dxp, const uint8_t* mask, const uint8_t* kh,
                   const uint8_t* kc) {
  const int64_t H = s.H, G = s.G, A = s.A, hu = u.n();
  const T p = static_cast<T>(s.p);
  with_flags(s.zmode, rm != nullptr, [&](auto Zc, auto RMc) {
    constexpr int Z = decltype(Zc)::value;
    constexpr bool RM = decltype(RMc)::value;
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t r = n * H + u.u0;
      if (mask && !mask[n]) {  // the state passed straight through this step
        pass_through<RM>(dhd + r, gm + n * ldm, RM ? rm + r : nullptr, hu);
        zero_units(dxp + n * G, 4, H, u);
        continue;
      }
      lstm_bwd_row<Z, RM, T>(hu, H, p, dout + r, gm + n * ldm, RM ? rm + r : nullptr, dhd + r,
                             dcc + r, act + n * A + u.u0, cprev + r, dxp + n * G + u.u0,
                             Z == 1 ? kh + r : nullptr, Z == 1 ? kc + r : nullptr);
    }
  });
}

template <typename T>
void gru_bwd_pass(const Back& s, int64_t n0, int64_t n1, const Units& u, int64_t ldm,
                  const T* dout, const T* gm, const T* rm, T* dhd, const T* act, const T* hprev,
                  T* dxp, T* dhp, const uint8_t* mask, const uint8_t* kh) {
  const int64_t H = s.H, G = s.G, A = s.A, hu = u.n();
  const T p = static_cast<T>(s.p);
  with_flags(s.zmode, rm != nullptr, [&](auto Zc, auto RMc) {
    constexpr int Z = decltype(Zc)::value;
    constexpr bool RM = decltype(RMc)::value;
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t r = n * H + u.u0;
      if (mask && !mask[n]) {
        pass_through<RM>(dhd + r, gm + n * ldm, RM ? rm + r : nullptr, hu);
        zero_units(dxp + n * G, 3, H, u);
        zero_units(dhp + n * G, 3, H, u);
        continue;
      }
      gru_bwd_row<Z, RM, T>(hu, H, p, dout + r, gm + n * ldm, RM ? rm + r : nullptr, dhd + r,
                            act + n * A + u.u0, hprev + r, dxp + n * G + u.u0,
                            dhp + n * G + u.u0, Z == 1 ? kh + r : nullptr);
    }
  });
}

}  // namespace
}  // namespace deeprnn_scan

using namespace deeprnn_scan;

std::vector<Tensor> scan_backward(const std::string& kind, const Tensor& d_out_, const Tensor& d_hT,
                                  const c10::optional<Tensor>& d_cT, const Tensor& xp,
                                  const Tensor& w_hh_, const c10::optional<Tensor>& b_hh,
                                  const c10::optional<Tensor>& rec_mask_,
                                  const c10::optional<Tensor>& mask_,
                                  const c10::optional<Tensor>& keep_h_,
                                  const c10::optional<Tensor>& keep_c_, const Tensor& states_h_,
                                  const c10::optional<Tensor>& states_c_, const Tensor& acts_,
                                  double zoneout, bool training, bool backwards) {
  const bool lstm = kind == "lstm";
  TORCH_CHECK(lstm || kind == "gru", "deeprnn compiled scan: unsupported kind '", kind, "'");
  check(xp, w_hh_, d_hT, lstm ? 4 : 3);
  TORCH_CHECK(!lstm || (states_c_.has_value() && d_cT.has_value()),
              "deeprnn compiled scan: lstm backward needs states_c and d_cT");
  const Tensor d_out = d_out_.contiguous(), w_hh = w_hh_.contiguous();
  const Tensor states_h = states_h_.contiguous(), acts = acts_.contiguous();
  auto rec_mask = contig(rec_mask_), mask = contig(mask_);
  auto keep_h = contig(keep_h_), keep_c = contig(keep_c_), states_c = contig(states_c_);
  const int64_t T = xp.size(0), N = xp.size(1), G = xp.size(2), H = d_hT.size(1);
  const int64_t A = acts.size(2);
  TORCH_CHECK(A == (lstm ? 5 : 4) * H, "deeprnn compiled scan: acts has ", A, " columns");
  const int zmode = zoneout > 0 ? (training ? 1 : 2) : 0;
  Back s{N, H, G, A, zmode, zoneout};
  Tensor dxp = at::empty_like(xp, at::MemoryFormat::Contiguous);
  Tensor dhp = lstm ? dxp : at::empty_like(dxp);  // gradient at W_hh h (+ b_hh), time order
  Tensor dhd = d_hT.contiguous().clone();
  Tensor dcc = lstm ? d_cT->contiguous().clone() : Tensor();
  Tensor gm = at::zeros({N, H}, xp.options());
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_scan_backward", [&] {
    using T_ = scalar_t;
    const T_* rm = ptr<T_>(rec_mask);
    const uint8_t* mk = bptr(mask);
    const uint8_t* kh = bptr(keep_h);
    const uint8_t* kc = bptr(keep_c);
    const T_* sh = states_h.data_ptr<T_>();
    const T_* sc = lstm ? states_c->data_ptr<T_>() : nullptr;
    T_* gmp = gm.data_ptr<T_>();
    T_* dhdp = dhd.data_ptr<T_>();
    T_* dccp = lstm ? dcc.data_ptr<T_>() : nullptr;
    NoDenormals guard;
    // step k over rows [r0, r1) and units u; g: the units' gm, row stride ldm
    const auto pass = [&](int64_t k, int64_t r0, int64_t r1, const Units& u, int64_t ldm,
                          const T_* g) {
      const int64_t t = backwards ? T - 1 - k : k;
      const T_* dout = d_out.data_ptr<T_>() + t * N * H;
      const T_* a = acts.data_ptr<T_>() + k * N * A;
      T_* dx = dxp.data_ptr<T_>() + t * N * G;
      const uint8_t* mt = mk ? mk + t * N : nullptr;
      const uint8_t* kht = kh ? kh + t * N * H : nullptr;
      const uint8_t* kct = kc ? kc + t * N * H : nullptr;
      if (lstm) {
        lstm_bwd_pass<T_>(s, r0, r1, u, ldm, dout, g, rm, dhdp, dccp, a, sc + k * N * H, dx, mt,
                          kht, kct);
      } else {
        gru_bwd_pass<T_>(s, r0, r1, u, ldm, dout, g, rm, dhdp, a, sh + k * N * H, dx,
                         dhp.data_ptr<T_>() + t * N * G, mt, kht);
      }
    };
    const auto dp_at = [&](int64_t k) {
      return dhp.data_ptr<T_>() + (backwards ? T - 1 - k : k) * N * G;
    };
    if (const int64_t P = unit_blocks(N, H); P > 1) {
      // unit blocks: pass over the block's units, a barrier (the GEMM reads every unit of
      // dhp_t), then the block's columns of gm = dhp_t W_hh, which only its next pass reads
      const UnitPlan<T_> plan(w_hh, 1, H, N, P);
      for (const auto& o : plan.outs) o.zero_();
      over_unit_blocks(P, [&](int64_t b0, int64_t b1, SpinBarrier& barrier) {
        for (int64_t k = T - 1; k >= 0; --k) {
          for (int64_t blk = b0; blk < b1; ++blk) {
            pass(k, 0, N, plan.units[blk], plan.ld(blk), plan.outs[blk].template data_ptr<T_>());
          }
          barrier.arrive(b1 - b0);
          for (int64_t blk = b0; blk < b1; ++blk) plan.gemm(blk, dp_at(k));
        }
      });
      for (int64_t blk = 0; blk < P; ++blk) {
        gm.narrow(1, plan.units[blk].u0, plan.units[blk].n()).copy_(plan.outs[blk]);
      }
    } else {
      const Gemm<T_> gemm(w_hh, false);  // gm = dhp_t W_hh, (N, G*H) x (G*H, H)
      const Units all{0, H};
      over_row_blocks(N, [&](const Rows& rows) {  // one block per thread, or all rows (common.h)
        for (int64_t k = T - 1; k >= 0; --k) {
          rows.each(G, [&](int64_t n0, int64_t n1) { pass(k, n0, n1, all, H, gmp); });
          gemm(rows.m(), dp_at(k) + rows.n0 * G, G, gmp + rows.n0 * H);
        }
      });
    }
  });
  Tensor d_h0 = rec_mask ? dhd + gm * *rec_mask : dhd + gm;
  // weight gradient: one GEMM over all steps, both sides in time order
  Tensor hin = states_h.narrow(0, 0, T);
  if (rec_mask) hin = hin * *rec_mask;
  if (backwards) hin = hin.flip(0);
  Tensor d_w = at::mm(dhp.reshape({T * N, G}).t(), hin.reshape({T * N, H}));
  Tensor d_b = b_hh.has_value() && b_hh->defined() ? dhp.sum({0, 1}) : xp.new_empty({0});
  Tensor d_c0 = lstm ? dcc : xp.new_empty({0});
  return {dxp, d_w, d_b, d_h0, d_c0};
}
