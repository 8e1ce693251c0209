// Shared helpers of the compiled scans (scan_forward.cpp, scan_backward.cpp).
#pragma once
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace deeprnn_scan {

using at::Tensor;

// exp that the compiler vectorises (Cephes expf: |rel err| < 2e-7); double uses std::exp.
template <typename T>
inline T vexp(T x) {
  return std::exp(x);
}
template <>
inline float vexp<float>(float x) {
  x = x < -87.0f ? -87.0f : x;  // ternaries, not fmin/fmax: they vectorise
  x = x > 88.0f ? 88.0f : x;
  float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  x = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  float z = x * x;
  float y = 1.9875691500E-4f;
  y = y * x + 1.3981999507E-3f;
  y = y * x + 8.3334519073E-3f;
  y = y * x + 4.1665795894E-2f;
  y = y * x + 1.6666665459E-1f;
  y = y * x + 5.0000001201E-1f;
  y = y * z + x + 1.0f;
  int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  float p;
  std::memcpy(&p, &bits, sizeof(p));
  return y * p;
}
template <typename T>
inline T sigm(T x) {
  return T(1) / (T(1) + vexp<T>(-x));
}
template <typename T>
inline T tanh_(T x) {
  return T(2) / (T(1) + vexp<T>(T(-2) * x)) - T(1);
}

template <typename T>
const T* ptr(const c10::optional<Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}
inline const bool* bptr(const c10::optional<Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<bool>() : nullptr;
}
inline c10::optional<Tensor> contig(const c10::optional<Tensor>& t) {
  if (t.has_value() && t->defined()) return t->contiguous();
  return c10::nullopt;
}

inline int64_t grain(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

// zoneout / mask mix of one state element: training keep-mask, eval lerp, then the time mask.
template <typename T>
inline T mix(T fresh, T old, const bool* keep, int64_t j, int zmode, T p, bool m) {
  T v = fresh;
  if (zmode == 1) v = keep[j] ? old : v;
  if (zmode == 2) v = p < T(0.5) ? v + p * (old - v) : old - (old - v) * (T(1) - p);
  return m ? v : old;
}

void check(const Tensor& xp, const Tensor& w_hh, const Tensor& h0, int64_t gates);

}  // namespace deeprnn_scan

std::vector<at::Tensor> scan_backward(
    const std::string& kind, const at::Tensor& d_out, const at::Tensor& d_hT,
    const c10::optional<at::Tensor>& d_cT, const at::Tensor& xp, const at::Tensor& w_hh,
    const c10::optional<at::Tensor>& b_hh, const c10::optional<at::Tensor>& rec_mask,
    const c10::optional<at::Tensor>& mask, const c10::optional<at::Tensor>& keep_h,
    const c10::optional<at::Tensor>& keep_c, const at::Tensor& states_h,
    const c10::optional<at::Tensor>& states_c, const at::Tensor& acts, double zoneout,
    bool training, bool backwards);
