// A float cast and a permute that touch the same elements become one Reformat
// (ops.def): the copy that changes the layout also converts. Precision lowering
// casts a network's float32 input to 16 bits and the layout pass permutes it to
// channels-last (ResNet's NCHW image), or conv_as_gemm cuts it into patches
// (ViT): two full passes over the largest activation at the network's start, where
// one read of float32 and one write of 16 bits do. The mirror case, a permute
// back to NCHW followed by the output's cast to float32, folds the same way.
//
// Reshapes between the two move no elements, so the chain may pass through them:
//   cast -> reshape* -> permute   becomes   reshape* -> reformat (reading the wide input)
//   permute -> reshape* -> cast   becomes   reformat -> reshape* (writing the cast's dtype)
// The values in between change dtype, so each must have that one use and not be a
// graph output. The cast left behind is an identity, removed by canonicalize.
// Converting after moving an element gives the same value as before: the result is
// the unfused graph's, bit for bit.
#include <algorithm>
#include <vector>

#include "passes/passes.h"

namespace ingot {
namespace {

bool reformat_type(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

class ReformatFolder {
 public:
  explicit ReformatFolder(Graph& g) : g_(g), uses_(g.use_counts()) {}

  bool run() {
    bool changed = false;
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      Node& n = g_.node(static_cast<NodeId>(i));
      if (n.kind() != OpKind::kPermute) continue;
      changed |= fold_cast_before(n) || fold_cast_after(n);
    }
    return changed;
  }

 private:
  // The permute's perm with negative entries normalized (the verifier wants a
  // reformat's perm in [0, rank)).
  static std::vector<int64_t> normalized_perm(const Node& permute) {
    std::vector<int64_t> perm = std::get<PermuteAttrs>(permute.attrs).perm;
    for (int64_t& p : perm)
      if (p < 0) p += static_cast<int64_t>(perm.size());
    return perm;
  }

  bool private_value(ValueId v) const {
    return uses_[static_cast<size_t>(v)] == 1 && std::find(g_.outputs.begin(), g_.outputs.end(), v) == g_.outputs.end();
  }

  // cast -> reshape* -> permute: the reshapes and the cast's output take the cast's
  // input dtype (the cast becomes an identity), the permute converts.
  bool fold_cast_before(Node& permute) {
    std::vector<ValueId> retyped;
    ValueId v = permute.inputs[0];
    for (;;) {
      if (!private_value(v)) return false;
      retyped.push_back(v);
      const NodeId p = g_.value(v).producer;
      if (p < 0) return false;
      const Node& prev = g_.node(p);
      if (prev.kind() == OpKind::kCast) break;
      if (prev.kind() != OpKind::kReshape) return false;
      v = prev.inputs[0];
    }
    const Node& cast = g_.node(g_.value(v).producer);
    const DType from = g_.value(cast.inputs[0]).dtype, to = g_.value(v).dtype;
    if (!reformat_type(from) || !reformat_type(to) || from == to) return false;
    if (g_.value(permute.outputs[0]).dtype != to) return false;
    for (ValueId r : retyped) g_.value(r).dtype = from;
    permute.attrs = ReformatAttrs{.perm = normalized_perm(permute)};
    return true;
  }

  // permute -> reshape* -> cast: the permute writes the cast's dtype, the reshapes
  // carry it, the cast becomes an identity.
  bool fold_cast_after(Node& permute) {
    std::vector<ValueId> retyped;
    ValueId v = permute.outputs[0];
    const Node* cast = nullptr;
    for (;;) {
      if (!private_value(v)) return false;
      retyped.push_back(v);
      const Node* user = sole_user(v);
      if (!user) return false;
      if (user->kind() == OpKind::kCast) {
        cast = user;
        break;
      }
      if (user->kind() != OpKind::kReshape) return false;
      v = user->outputs[0];
    }
    const DType from = g_.value(permute.outputs[0]).dtype, to = g_.value(cast->outputs[0]).dtype;
    if (!reformat_type(from) || !reformat_type(to) || from == to) return false;
    for (ValueId r : retyped) g_.value(r).dtype = to;
    permute.attrs = ReformatAttrs{.perm = normalized_perm(permute)};
    return true;
  }

  // The one node reading v (private_value has checked there is exactly one use).
  const Node* sole_user(ValueId v) const {
    for (const Node& n : g_.nodes())
      if (std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end()) return &n;
    return nullptr;
  }

  Graph& g_;
  std::vector<int> uses_;
};

}  // namespace

bool run_fold_reformat(Graph& g) { return ReformatFolder(g).run(); }

}  // namespace ingot
