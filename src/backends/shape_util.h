// Host-side shape helpers and argument checks shared by the CPU and CUDA backends,
// so that both validate a step the same way and report it in the same words.
// Templates over the backend's tensor type (cpu::TensorRef, cuda::DeviceTensor:
// anything with `shape` and `dtype` members); `tag` names the op in messages
// ("concat", "cuda concat").
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"

namespace ingot::backend {

inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Normalizes a possibly negative dim; false when out of range.
inline bool normalize_dim(int64_t dim, int rank, int* out) {
  if (dim < 0) dim += rank;
  if (dim < 0 || dim >= std::max(rank, 1)) return false;
  *out = static_cast<int>(dim);
  return true;
}

// Strides (in elements) that read `in_shape` broadcast numpy-style to `out_shape`
// (right-aligned; size-1 dims get stride 0). Fails when the shapes do not broadcast.
inline bool broadcast_strides(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape,
                              std::vector<int64_t>* strides) {
  const int out_rank = static_cast<int>(out_shape.size());
  const int in_rank = static_cast<int>(in_shape.size());
  if (in_rank > out_rank) return false;
  strides->assign(out_rank, 0);
  const std::vector<int64_t> in_strides = contiguous_strides(in_shape);
  for (int i = 0; i < in_rank; ++i) {
    const int o = out_rank - in_rank + i;
    if (in_shape[i] == out_shape[o]) {
      (*strides)[o] = in_shape[i] == 1 ? 0 : in_strides[i];
    } else if (in_shape[i] != 1) {
      return false;
    }
  }
  return true;
}

// Source strides (in elements) of a permute of `in` into `out`'s shape; checks perm
// and the shapes (permute, reformat).
template <typename Tensor>
Status permuted_strides(const std::vector<int64_t>& perm, const Tensor& in, const Tensor& out, const std::string& tag,
                        std::vector<int64_t>* src_strides) {
  const int rank = static_cast<int>(in.shape.size());
  if (static_cast<int>(perm.size()) != rank || static_cast<int>(out.shape.size()) != rank)
    return invalid_argument("[" + tag + "] perm has " + std::to_string(perm.size()) + " entries for rank " +
                            std::to_string(rank));
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  src_strides->assign(static_cast<size_t>(rank), 0);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int k = 0; k < rank; ++k) {
    int p;
    if (!normalize_dim(perm[k], rank, &p) || seen[p]) return invalid_argument("[" + tag + "] perm is not a permutation");
    seen[p] = true;
    if (out.shape[k] != in.shape[p])
      return invalid_argument("[" + tag + "] output shape " + shape_str(out.shape) + " does not match input " +
                              shape_str(in.shape) + " permuted");
    (*src_strides)[k] = in_strides[p];
  }
  return {};
}

template <typename Tensor>
Status check_same_dtype(const Tensor& in, const Tensor& out, const std::string& tag) {
  if (in.dtype != out.dtype)
    return invalid_argument("[" + tag + "] input dtype " + dtype_name(in.dtype) + " differs from output dtype " +
                            dtype_name(out.dtype));
  return {};
}

// Every input has the output's dtype and shape except along `dim`, and the inputs'
// sizes along `dim` add up to the output's. Sets *dim_out to the normalized dim.
template <typename Tensor>
Status check_concat(const std::vector<const Tensor*>& in, const Tensor& out, int64_t dim, const std::string& tag,
                    int* dim_out) {
  if (in.empty()) return invalid_argument("[" + tag + "] needs at least one input");
  const int rank = static_cast<int>(out.shape.size());
  int d0;
  if (!normalize_dim(dim, rank, &d0) || rank == 0)
    return invalid_argument("[" + tag + "] bad dim " + std::to_string(dim) + " for output " + shape_str(out.shape));
  int64_t total = 0;
  for (const Tensor* t : in) {
    INGOT_RETURN_IF_ERROR(check_same_dtype(*t, out, tag));
    bool ok = t->shape.size() == out.shape.size();
    for (int d = 0; ok && d < rank; ++d) ok = d == d0 || t->shape[d] == out.shape[d];
    if (!ok)
      return invalid_argument("[" + tag + "] input " + shape_str(t->shape) + " does not fit output " +
                              shape_str(out.shape) + " along dim " + std::to_string(d0));
    total += t->shape[d0];
  }
  if (total != out.shape[d0])
    return invalid_argument("[" + tag + "] inputs sum to " + std::to_string(total) + " along dim " +
                            std::to_string(d0) + ", output has " + std::to_string(out.shape[d0]));
  *dim_out = d0;
  return {};
}

}  // namespace ingot::backend
