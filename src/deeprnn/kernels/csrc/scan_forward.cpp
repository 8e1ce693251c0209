// The whole time loop of one recurrent layer on CPU: forward and hand-written BPTT.
//
// Per step: ONE GEMM into a preallocated buffer (hp = hin W_hh^T, (N, H) x (H, G*H)) and ONE
// fused elementwise pass over the rows of the batch (at::parallel_for) that adds xp_t (+ b_hh),
// applies the gate nonlinearities, the cell update, zoneout (training keep-masks or the eval
// lerp), the time-mask carry, zeroes out at masked steps and writes the next GEMM's input
// hin = h_t * rec_mask. The backward walks the steps in reverse with one GEMM per step
// (dh_in = dhp_t W_hh, (N, G*H) x (G*H, H)) and one fused pass; dW_hh is one GEMM over all steps.
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

template <typename T>
void lstm_fwd_pass(const Step& s, const T* xp, const T* hp, const T* b, const T* hprev,
                   const T* cprev, T* hnew, T* cnew, T* act, T* out, const bool* mask,
                   const bool* kh, const bool* kc, const T* rm, T* hin) {
  const int64_t H = s.H, G = s.G, A = s.A;
  const T p = static_cast<T>(s.p);
  at::parallel_for(0, s.N, grain(G), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* x = xp + n * G;
      const T* g = hp + n * G;
      T* a = act + n * A;
      const T* hp_ = hprev + n * H;
      const T* cp_ = cprev + n * H;
      T* hn = hnew + n * H;
      T* cn = cnew + n * H;
      T* o_ = out + n * H;
      const bool m = mask ? mask[n] : true;
      const bool* kh_ = kh ? kh + n * H : nullptr;
      const bool* kc_ = kc ? kc + n * H : nullptr;
      const T* rm_ = rm ? rm + n * H : nullptr;
      T* hin_ = hin ? hin + n * H : nullptr;
#pragma GCC ivdep
      for (int64_t j = 0; j < H; ++j) {
        T ai = x[j] + g[j], af = x[H + j] + g[H + j];
        T ag = x[2 * H + j] + g[2 * H + j], ao = x[3 * H + j] + g[3 * H + j];
        if (b) {
          ai += b[j];
          af += b[H + j];
          ag += b[2 * H + j];
          ao += b[3 * H + j];
        }
        T i = sigm(ai), f = sigm(af), gg = tanh_(ag), o = sigm(ao);
        T c = f * cp_[j] + i * gg;
        T tc = tanh_(c);
        T h = o * tc;
        a[j] = i;
        a[H + j] = f;
        a[2 * H + j] = gg;
        a[3 * H + j] = o;
        a[4 * H + j] = tc;
        h = mix(h, hp_[j], kh_, j, s.zmode, p, m);
        c = mix(c, cp_[j], kc_, j, s.zmode, p, m);
        hn[j] = h;
        cn[j] = c;
        o_[j] = m ? h : T(0);
        if (hin_) hin_[j] = h * rm_[j];
      }
    }
  });
}

template <typename T>
void gru_fwd_pass(const Step& s, const T* xp, const T* hp, const T* b, const T* hprev, T* hnew,
                  T* act, T* out, const bool* mask, const bool* kh, const T* rm, T* hin) {
  const int64_t H = s.H, G = s.G, A = s.A;
  const T p = static_cast<T>(s.p);
  at::parallel_for(0, s.N, grain(G), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* x = xp + n * G;
      const T* g = hp + n * G;
      T* a = act + n * A;
      const T* hp_ = hprev + n * H;
      T* hn = hnew + n * H;
      T* o_ = out + n * H;
      const bool m = mask ? mask[n] : true;
      const bool* kh_ = kh ? kh + n * H : nullptr;
      const T* rm_ = rm ? rm + n * H : nullptr;
      T* hin_ = hin ? hin + n * H : nullptr;
#pragma GCC ivdep
      for (int64_t j = 0; j < H; ++j) {
        T gr = g[j], gz = g[H + j], gn = g[2 * H + j];
        if (b) {
          gr += b[j];
          gz += b[H + j];
          gn += b[2 * H + j];
        }
        T r = sigm(x[j] + gr), z = sigm(x[H + j] + gz);
        T nn = tanh_(x[2 * H + j] + r * gn);
        T h = nn + z * (hp_[j] - nn);
        a[j] = r;
        a[H + j] = z;
        a[2 * H + j] = nn;
        a[3 * H + j] = gn;
        h = mix(h, hp_[j], kh_, j, s.zmode, p, m);
        hn[j] = h;
        o_[j] = m ? h : T(0);
        if (hin_) hin_[j] = h * rm_[j];
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

}  // namespace deeprnn_scan

using namespace deeprnn_scan;

// Returns [out (T, N, H), states_h (T+1, N, H), states_c (T+1, N, H) or (0,), acts (T, N, A)].
std::vector<Tensor> scan_forward(const std::string& kind, const Tensor& xp_, const Tensor& w_hh,
                                 const c10::optional<Tensor>& b_hh_,
                                 const c10::optional<Tensor>& rec_mask_,
                                 const c10::optional<Tensor>& mask_,
                                 const c10::optional<Tensor>& keep_h_,
                                 const c10::optional<Tensor>& keep_c_, const Tensor& h0,
                                 const c10::optional<Tensor>& c0, double zoneout, bool training,
                                 bool backwards) {
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
  Tensor acts = xp.new_empty({T, N, A});
  Tensor out = xp.new_empty({T, N, H});
  Tensor hp = xp.new_empty({N, G});
  const Tensor w_t = w_hh.t().contiguous();  // (H, G*H): contiguous right operand
  Tensor hin_buf;
  if (rec_mask) hin_buf = states_h[0] * *rec_mask;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "deeprnn_scan_forward", [&] {
    using T_ = scalar_t;
    const T_* b = ptr<T_>(b_hh);
    const T_* rm = ptr<T_>(rec_mask);
    const bool* mk = bptr(mask);
    const bool* kh = bptr(keep_h);
    const bool* kc = bptr(keep_c);
    T_* sh = states_h.data_ptr<T_>();
    T_* sc = lstm ? states_c.data_ptr<T_>() : nullptr;
    T_* hin = rm ? hin_buf.data_ptr<T_>() : nullptr;
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = backwards ? T - 1 - k : k;
      at::mm_out(hp, rm ? hin_buf : states_h[k], w_t);
      const T_* x = xp.data_ptr<T_>() + t * N * G;
      T_* a = acts.data_ptr<T_>() + k * N * A;
      T_* o = out.data_ptr<T_>() + t * N * H;
      const bool* mt = mk ? mk + t * N : nullptr;
      const bool* kht = kh ? kh + t * N * H : nullptr;
      if (lstm) {
        const bool* kct = kc ? kc + t * N * H : nullptr;
        lstm_fwd_pass<T_>(s, x, hp.data_ptr<T_>(), b, sh + k * N * H, sc + k * N * H,
                          sh + (k + 1) * N * H, sc + (k + 1) * N * H, a, o, mt, kht, kct, rm, hin);
      } else {
        gru_fwd_pass<T_>(s, x, hp.data_ptr<T_>(), b, sh + k * N * H, sh + (k + 1) * N * H, a, o,
                         mt, kht, rm, hin);
      }
    }
  });
  return {out, states_h, states_c, acts};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "deeprnn: compiled CPU time loops (lstm, gru) forward and backward";
  m.def("scan_forward", &scan_forward, "time loop forward");
  m.def("scan_backward", &scan_backward, "time loop backward (BPTT)");
}
