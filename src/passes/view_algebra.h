// Strided-view arithmetic over the IR's data-movement nodes (Reshape, Permute,
// Slice, Expand): replaying a chain of them from a contiguous source tells where
// each element of the chain's result lives in the source. Attention view folding
// uses it to read operands in place; view-chain collapsing uses it to turn
// permute/reshape chains that end where they started into one reshape.
#pragma once
#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace ingot {

// A view over a contiguous source tensor. Each dim is a mixed-radix list of
// (size, stride) components, outermost first, so a reshape that merges dims which
// are not contiguous in memory still composes: the merged dim just keeps both
// components, and a later reshape can split them apart again (ViT reads q as
// [L, B*H, E] of a non-contiguous slice before splitting B and H back out). Only
// the final view must give each dim a single stride.
struct Component {
  int64_t size = 1, stride = 0;
};
struct StridedView {
  int64_t offset = 0;
  std::vector<std::vector<Component>> dims;
};

// Reshape, Permute, Slice or Expand with one input: nodes a view can look through.
bool is_view_node(const Node& n);
// Drops size-1 components and merges neighbours that are contiguous.
void simplify(std::vector<Component>& dim);
int64_t dim_size(const std::vector<Component>& dim);
// The row-major view of a contiguous tensor of `shape`.
StridedView contiguous_view(const std::vector<int64_t>& shape);
// torch-style reshape of the view; splits components where new dims end inside
// them, fails only when sizes do not divide.
bool apply_reshape(StridedView& v, const std::vector<int64_t>& new_shape);
// The dim as one stride (size-1 dims: 0); false when its components do not merge.
bool single_stride(const std::vector<Component>& dim, int64_t& stride);
// Replays one Reshape/Permute/Slice/Expand node; false when it is no view of its input.
bool apply_node(const Graph& g, const Node& n, StridedView& v);
// Whether the view is exactly the row-major layout of `shape` at offset 0.
bool view_is_contiguous(const StridedView& v, const std::vector<int64_t>& shape);

}  // namespace ingot
