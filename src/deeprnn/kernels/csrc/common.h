// Shared helpers of the compiled scans (scan_forward.cpp, scan_backward.cpp).
#pragma once
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
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

inline int64_t grain(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

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

std::vector<at::Tensor> ln_scan_backward(
    const std::string& kind, const at::Tensor& d_out, const at::Tensor& d_hT,
    const c10::optional<at::Tensor>& d_cT, const at::Tensor& xp, const at::Tensor& w_hh,
    const c10::optional<at::Tensor>& rec_mask, const c10::optional<at::Tensor>& mask,
    const c10::optional<at::Tensor>& keep_h, const c10::optional<at::Tensor>& keep_c,
    const at::Tensor& states_h, const c10::optional<at::Tensor>& states_c,
    const at::Tensor& acts, std::vector<at::Tensor> pw, double zoneout, bool training,
    bool backwards);
