// The index space of an Attention step, shared by the verifier, the planner's
// callers and both backends: sizes (B, Hq, Hkv, L, S, E, Ev) and, for q, k, v and
// out, where element (b, h, i, e) lives: data[offset + b*stride_b + h*stride_h +
// i*stride_row + e]. Dense tensors ([B.., H, rows, E], batch dims flattened) get
// their natural strides; a step whose `views` attribute was set by the
// fold_attention_views pass reads them in place inside larger tensors (a packed
// QKV projection, a [B, L, H, E] layout), which is what removes the head
// transposes around attention. One parser means the kernels and the checks can
// never disagree about which element is which.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ingot/status.h"
#include "ir/ops.h"

namespace ingot {

struct AttnView {
  int64_t offset = 0, stride_b = 0, stride_h = 0, stride_row = 0;
};

struct AttnGeometry {
  int64_t batch = 0, hq = 0, hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  AttnView q, k, v, out;
  bool strided = false;  // from the views attribute
  // The [B.., Hq, L, S] space a mask broadcasts to (dense: q's leading dims).
  std::vector<int64_t> mask_space;
};

// Parses and checks sizes and views against the tensors' shapes; every view must
// stay inside its tensor and the output view must not write an element twice.
// Errors name `who` (e.g. "[cuda attention]").
Result<AttnGeometry> attention_geometry(const AttentionAttrs& attrs, const std::vector<int64_t>& q_shape,
                                        const std::vector<int64_t>& k_shape, const std::vector<int64_t>& v_shape,
                                        const std::vector<int64_t>& out_shape, const std::string& who);

// Number of values the views attribute holds (4 per tensor) and dims holds.
inline constexpr size_t kAttnViewInts = 16;
inline constexpr size_t kAttnDimInts = 7;

}  // namespace ingot
