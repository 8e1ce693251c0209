// Shared by the layer-norm scans (scan_ln.cpp forward and inference, scan_ln_backward.cpp).
//
// Layer-normalised kinds of the compiled scans: ln_lstm and ln_gru (deeprnn.kernels._pointwise
// LN_KERNELS), one GEMM + one fused row pass per step.
//
// LN(v) = xhat * gain + shift, xhat = (v - mean(v)) * rstd, rstd = 1 / sqrt(var(v) + 1e-5),
// statistics over the features of one row (biased variance, as F.layer_norm).
//   ln_lstm: gates = xp_t + LN_hh(W_hh hin); c = f c' + i g; h = o tanh(LN_c(c))
//            act = [i, f, g, o | xhat_hh (4H) | chat (H) | rstd_hh | rstd_c]       (9H + 2)
//   ln_gru:  hp = LN_hh(W_hh hin); r, z, n, h as the reset-after GRU on hp
//            act = [r, z, n, hp_n | xhat_hh (3H) | rstd_hh]                         (7H + 1)
// pw = (g_hh, b_hh, g_c, b_c) for ln_lstm, (g_hh, b_hh) for ln_gru.
// Backward through LN: dv = rstd (dy - mean(dy) - xhat mean(dy xhat)), per row.
#pragma once
#include <array>

#include "common.h"

namespace deeprnn_scan {

constexpr double kEps = 1e-5;  // the LN cells' eps

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

// the data pointers of the LN parameters pw (n of them, 1-D, the first `width` long)
inline std::vector<const void*> pw_ptrs(const std::vector<Tensor>& pw, size_t n, int64_t width) {
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

// Whether pw ends with LN_ih's (g_ih, b_ih) (the training scans' ln_input; the inference scan
// always has them), after checking the count and every width: g_hh, b_hh and g_ih, b_ih G
// features, ln_lstm's g_c, b_c H (G = 4H ln_lstm, 3H ln_gru).
inline bool has_ln_input(bool lstm, const std::vector<Tensor>& pw, int64_t G, int64_t H) {
  const size_t base = lstm ? 4 : 2;
  TORCH_CHECK(pw.size() == base || pw.size() == base + 2, "deeprnn compiled scan: expected ",
              base, " or ", base + 2, " layer-norm parameters, got ", pw.size());
  for (size_t i = 0; i < pw.size(); ++i) {
    const int64_t width = lstm && (i == 2 || i == 3) ? H : G;
    TORCH_CHECK(pw[i].dim() == 1 && pw[i].size(0) == width, "deeprnn compiled scan: layer-norm ",
                "parameter ", i, " has shape ", pw[i].sizes(), ", expected (", width, ")");
  }
  return pw.size() == base + 2;
}

// pw_ptrs' pointers as T (at most 6: the LN gains and shifts of one scan)
template <typename T>
std::array<const T*, 6> typed_ptrs(const std::vector<const void*>& pws) {
  std::array<const T*, 6> out{};
  for (size_t i = 0; i < pws.size() && i < out.size(); ++i) out[i] = static_cast<const T*>(pws[i]);
  return out;
}

}  // namespace deeprnn_scan
