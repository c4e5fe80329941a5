// CPU kernel for scaled dot-product attention: softmax(q k^T * scale + mask) v
// per (batch, head) with two Eigen GEMMs, grouped-query heads (Hq a multiple of
// Hkv), bool or additive masks broadcast to [B.., Hq, L, S], and torch's
// top-left-aligned causal mask. Rows whose every score is -inf give zeros, as
// torch's math path (_safe_softmax) and its CPU flash kernel do. q, k, v and out
// are read and written through the step's views (ir/attention_geometry.h), so a
// folded step reads a packed projection in place.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/nn_util.h"
#include "ir/attention_geometry.h"

namespace ingot::cpu {
namespace {

using nn::ConstMatMap;
using nn::MatMap;
using nn::shape_string;

template <typename T>
using StridedMap = Eigen::Map<const nn::RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using StridedOutMap = Eigen::Map<nn::RowMatrix<T>, 0, Eigen::OuterStride<>>;

template <typename T>
Status attention_typed(const AttentionAttrs& attrs, const KernelArgs& args) {
  const TensorRef &q = *args.in[0], &k = *args.in[1], &v = *args.in[2];
  const TensorRef* mask = args.in.size() > 3 ? args.in[3] : nullptr;
  TensorRef& out = *args.out[0];
  INGOT_ASSIGN_OR_RETURN(const AttnGeometry geo, attention_geometry(attrs, q.shape, k.shape, v.shape, out.shape,
                                                                    "attention:"));
  const int64_t hq = geo.hq, l = geo.L, e = geo.E, hkv = geo.hkv, s = geo.S, ev = geo.Ev;
  // Mask strides over the full [B.., Hq, L, S] index space (0 where it broadcasts).
  const std::vector<int64_t>& full = geo.mask_space;
  std::vector<int64_t> mstride(full.size(), 0);
  bool bool_mask = false;
  if (mask) {
    if (mask->rank() > static_cast<int>(full.size()))
      return invalid_argument("attention: mask " + shape_string(mask->shape) + " has more dims than " +
                              shape_string(full));
    int64_t stride = 1;
    for (int i = 0; i < mask->rank(); ++i) {
      size_t d = mask->shape.size() - 1 - i, fd = full.size() - 1 - i;
      if (mask->shape[d] != 1 && mask->shape[d] != full[fd])
        return invalid_argument("attention: mask " + shape_string(mask->shape) + " does not broadcast to " +
                                shape_string(full));
      mstride[fd] = mask->shape[d] == 1 ? 0 : stride;
      stride *= mask->shape[d];
    }
    bool_mask = mask->dtype == DType::kBool;
    if (!bool_mask && mask->dtype != q.dtype)
      return unsupported(std::string("attention: mask dtype ") + dtype_name(mask->dtype) + " with q dtype " +
                         dtype_name(q.dtype));
  }
  const int64_t group = hq / hkv, ms_l = mstride[full.size() - 2], ms_s = mstride[full.size() - 1];
  const T scale = static_cast<T>(attrs.scale);
  const T* qd = q.as<T>();
  const T* kd = k.as<T>();
  const T* vd = v.as<T>();
  T* od = out.as<T>();
  const int64_t heads = geo.batch * hq;
  auto at = [](const AttnView& view, int64_t b, int64_t h) { return view.offset + b * view.stride_b + h * view.stride_h; };

  auto run_head = [&](int64_t bh) {
    const int64_t b = bh / hq, h = bh % hq, hk = h / group;
    T* scores = nn::scratch<T>(static_cast<size_t>(l * s), 1);
    MatMap<T> sm(scores, l, s);
    StridedMap<T> qm(qd + at(geo.q, b, h), l, e, Eigen::OuterStride<>(geo.q.stride_row));
    StridedMap<T> km(kd + at(geo.k, b, hk), s, e, Eigen::OuterStride<>(geo.k.stride_row));
    sm.noalias() = (qm * km.transpose()) * scale;
    int64_t mask_base = 0;
    if (mask) {  // offset of this (batch.., head) in the mask
      int64_t rem = bh;
      for (size_t d = full.size() - 2; d-- > 0;) {
        mask_base += (rem % full[d]) * mstride[d];
        rem /= full[d];
      }
    }
    const T neg_inf = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < l; ++i) {
      T* row = scores + i * s;
      if (mask) {
        if (bool_mask) {
          const uint8_t* mrow = mask->as<uint8_t>() + mask_base + i * ms_l;
          for (int64_t j = 0; j < s; ++j)
            if (!mrow[j * ms_s]) row[j] = neg_inf;
        } else {
          const T* mrow = mask->as<T>() + mask_base + i * ms_l;
          for (int64_t j = 0; j < s; ++j) row[j] += mrow[j * ms_s];
        }
      }
      if (attrs.is_causal)
        for (int64_t j = std::max<int64_t>(i + 1, 0); j < s; ++j) row[j] = neg_inf;
      T mx = neg_inf;
      for (int64_t j = 0; j < s; ++j) mx = std::max(mx, row[j]);
      if (mx == neg_inf) {  // fully masked row: torch gives zeros
        std::fill(row, row + s, T(0));
        continue;
      }
      T sum = 0;
      for (int64_t j = 0; j < s; ++j) {
        row[j] = std::exp(row[j] - mx);
        sum += row[j];
      }
      T inv = T(1) / sum;
      for (int64_t j = 0; j < s; ++j) row[j] *= inv;
    }
    StridedMap<T> vm(vd + at(geo.v, b, hk), s, ev, Eigen::OuterStride<>(geo.v.stride_row));
    StridedOutMap<T>(od + at(geo.out, b, h), l, ev, Eigen::OuterStride<>(geo.out.stride_row)).noalias() = sm * vm;
  };
  // Enough heads: one head per thread. Few heads: let Eigen parallelize each GEMM.
  if (heads >= 2) {
#pragma omp parallel for schedule(dynamic)
    for (int64_t bh = 0; bh < heads; ++bh) run_head(bh);
  } else {
    for (int64_t bh = 0; bh < heads; ++bh) run_head(bh);
  }
  return Status::ok_status();
}

}  // namespace

Status attention(const OpAttrs& attrs, const KernelArgs& args) {
  if (op_kind(attrs) != OpKind::kAttention)
    return internal_error(std::string("attention: not an attention op: ") + op_name(op_kind(attrs)));
  if (args.in.size() < 3 || !args.in[0] || !args.in[1] || !args.in[2] || args.out.size() != 1)
    return internal_error("attention: expects inputs (q, k, v, mask?) and one output");
  const auto& a = std::get<AttentionAttrs>(attrs);
  return nn::run_in_float(args, [&](const KernelArgs& s) -> Status {
    DType t = s.in[0]->dtype;
    for (int i = 1; i < 3; ++i)
      if (s.in[i]->dtype != t)
        return unsupported(std::string("attention: mixed dtypes ") + dtype_name(t) + " and " +
                           dtype_name(s.in[i]->dtype));
    switch (t) {
      case DType::kFloat32: return attention_typed<float>(a, s);
      case DType::kFloat64: return attention_typed<double>(a, s);
      default: return unsupported(std::string("attention: dtype ") + dtype_name(t) + " is not supported on cpu");
    }
  });
}

}  // namespace ingot::cpu
