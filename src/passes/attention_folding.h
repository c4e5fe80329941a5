// What fold_attention_views can fold, for the passes that prepare for it
// (merge_sibling_gemms.cc only merges projections whose slices it will absorb,
// and the permute sinking in fold_attention_views.cc only moves permutes it will
// absorb): an Attention step it can read through views, and whether a value
// reaches nothing but such steps' q/k/v operands through view nodes.
#pragma once
#include <vector>

#include "ir/graph.h"
#include "passes/view_algebra.h"

namespace ingot {

// Per value: the nodes reading it (with repeats) and whether it is a graph output.
struct ValueUses {
  std::vector<std::vector<NodeId>> consumers;
  std::vector<bool> is_output;
  static ValueUses of(const Graph& g);
};

// Rank-4 attention without views yet; on cuda also one the flash kernel runs
// (fp16/bf16, E == Ev in {32, 64, 128}).
bool attention_foldable(const Graph& g, const Node& n, bool cuda);

// Every use of v is, through view nodes, a q/k/v operand of a foldable attention.
bool feeds_only_foldable_attention(const Graph& g, const ValueUses& uses, ValueId v, bool cuda);

}  // namespace ingot
