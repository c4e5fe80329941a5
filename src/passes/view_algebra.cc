// View arithmetic over the IR's data-movement nodes: see view_algebra.h.
#include "passes/view_algebra.h"

#include <utility>

namespace ingot {

// Drops size-1 components and merges neighbours that are contiguous.
void simplify(std::vector<Component>& dim) {
  std::vector<Component> out;
  for (const Component& c : dim) {
    if (c.size == 1) continue;
    if (!out.empty() && out.back().stride == c.size * c.stride) {
      out.back() = Component{out.back().size * c.size, c.stride};
      continue;
    }
    out.push_back(c);
  }
  dim = std::move(out);
}

int64_t dim_size(const std::vector<Component>& dim) {
  int64_t n = 1;
  for (const Component& c : dim) n *= c.size;
  return n;
}

StridedView contiguous_view(const std::vector<int64_t>& shape) {
  StridedView v;
  int64_t stride = 1;
  v.dims.resize(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    v.dims[i] = {Component{shape[i], stride}};
    stride *= shape[i];
    simplify(v.dims[i]);
  }
  return v;
}

// Regroups the components into the new shape, splitting a component where a new
// dim boundary falls inside it (always possible when the sizes divide).
bool apply_reshape(StridedView& v, const std::vector<int64_t>& new_shape) {
  std::vector<Component> atoms;
  for (const auto& d : v.dims)
    for (const Component& c : d) atoms.push_back(c);
  std::vector<std::vector<Component>> dims(new_shape.size());
  size_t next = 0;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    int64_t need = new_shape[i];
    if (need <= 0) return false;
    while (need > 1) {
      if (next >= atoms.size()) return false;
      Component& a = atoms[next];
      if (a.size <= need) {
        if (need % a.size != 0) return false;
        dims[i].push_back(a);
        need /= a.size;
        ++next;
      } else {
        if (a.size % need != 0) return false;
        // The outer part of the component goes to this dim, the inner part stays.
        dims[i].push_back(Component{need, a.stride * (a.size / need)});
        a.size /= need;
        need = 1;
      }
    }
    simplify(dims[i]);
  }
  if (next != atoms.size()) return false;
  v.dims = std::move(dims);
  return true;
}

// The dim as one (size, stride); false when its components do not merge.
bool single_stride(const std::vector<Component>& dim, int64_t& stride) {
  if (dim.empty()) {
    stride = 0;
    return true;
  }
  if (dim.size() != 1) return false;
  stride = dim[0].stride;
  return true;
}

bool apply_node(const Graph& g, const Node& n, StridedView& v) {
  const std::vector<int64_t>& out_shape = g.value(n.outputs[0]).shape;
  switch (n.kind()) {
    case OpKind::kReshape: return apply_reshape(v, out_shape);
    case OpKind::kPermute: {
      const auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
      if (perm.size() != v.dims.size()) return false;
      StridedView p = v;
      for (size_t i = 0; i < perm.size(); ++i) {
        if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(perm.size())) return false;
        p.dims[i] = v.dims[perm[i]];
      }
      v = std::move(p);
      return true;
    }
    case OpKind::kSlice: {
      const auto& a = std::get<SliceAttrs>(n.attrs);
      const int64_t rank = static_cast<int64_t>(v.dims.size());
      const int64_t dim = a.dim < 0 ? a.dim + rank : a.dim;
      if (dim < 0 || dim >= rank || a.step <= 0 || a.start < 0 || out_shape.size() != v.dims.size()) return false;
      int64_t stride = 0;
      if (!single_stride(v.dims[dim], stride)) return false;
      v.offset += a.start * stride;
      v.dims[dim] = {Component{out_shape[dim], stride * a.step}};
      simplify(v.dims[dim]);
      return true;
    }
    case OpKind::kExpand: {
      if (out_shape.size() != v.dims.size()) return false;
      for (size_t i = 0; i < out_shape.size(); ++i) {
        const int64_t size = dim_size(v.dims[i]);
        if (size == out_shape[i]) continue;
        if (size != 1) return false;
        v.dims[i] = {Component{out_shape[i], 0}};
      }
      return true;
    }
    default: return false;
  }
}

bool is_view_node(const Node& n) {
  switch (n.kind()) {
    case OpKind::kReshape: case OpKind::kPermute: case OpKind::kSlice: case OpKind::kExpand:
      return n.outputs.size() == 1 && !n.inputs.empty() && n.inputs[0] != kNoValue;
    default: return false;
  }
}

bool view_is_contiguous(const StridedView& v, const std::vector<int64_t>& shape) {
  if (v.offset != 0 || v.dims.size() != shape.size()) return false;
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (dim_size(v.dims[i]) != shape[i]) return false;
    if (shape[i] != 1) {
      int64_t s = 0;
      if (!single_stride(v.dims[i], s) || s != stride) return false;
    }
    stride *= shape[i];
  }
  return true;
}

}  // namespace ingot
