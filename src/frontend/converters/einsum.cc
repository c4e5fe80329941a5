// Converter for aten.einsum (MaxViT's attention, and any model written with
// torch.einsum; the decomposed dialect already lowers it to bmm, the training IR
// keeps it). The equation is parsed into integer labels (letters, and the dims an
// ellipsis covers, right-aligned across operands as numpy broadcasting does) and
// the operands are contracted left to right, two at a time, the way torch itself
// does it: labels only one side still needs are summed away first, then each pair
// becomes permute + reshape + one batched MatMul [B, M, K] x [B, K, N] + reshape.
// Repeated labels within one operand (diagonals, "ii->i") are refused clearly.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

constexpr int kEllipsisBase = 1000;  // label of ellipsis dim k (0 = outermost) is kEllipsisBase + k

// An operand during contraction: its value and one label per dim.
struct Term {
  ValueId value;
  std::vector<int> labels;
};

int letter_label(char c) { return c >= 'a' ? 26 + (c - 'a') : c - 'A'; }

// Parses one operand's subscript (spaces ignored) into labels; `rank` fixes how
// many dims "..." covers. max_ellipsis is the widest ellipsis of all operands.
Result<std::vector<int>> parse_subscript(const ConvertContext& ctx, const std::string& text, int64_t rank,
                                         int64_t max_ellipsis, bool is_output) {
  std::vector<int> labels;
  int64_t letters = 0;
  bool has_ellipsis = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (text.compare(i, 3, "...") != 0 || has_ellipsis) return ctx.error("malformed ellipsis in einsum subscript '" + text + "'");
      has_ellipsis = true;
      labels.push_back(-1);  // placeholder, expanded below
      i += 2;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      return ctx.error(std::string("invalid character '") + c + "' in einsum subscript '" + text + "'");
    }
    labels.push_back(letter_label(c));
    ++letters;
  }
  const int64_t ellipsis_dims = is_output ? max_ellipsis : rank - letters;
  if (!is_output && (ellipsis_dims < 0 || (!has_ellipsis && ellipsis_dims != 0))) {
    return ctx.error("einsum subscript '" + text + "' does not match an operand of rank " + std::to_string(rank));
  }
  std::vector<int> expanded;
  for (int l : labels) {
    if (l != -1) {
      expanded.push_back(l);
      continue;
    }
    for (int64_t k = max_ellipsis - ellipsis_dims; k < max_ellipsis; ++k) expanded.push_back(kEllipsisBase + static_cast<int>(k));
  }
  return expanded;
}

ValueId sum_dims(ConvertContext& ctx, ValueId x, const std::vector<int64_t>& dims) {
  if (dims.empty()) return x;
  std::vector<int64_t> shape;
  const std::vector<int64_t>& in = ctx.value(x).shape;
  for (size_t d = 0; d < in.size(); ++d)
    if (std::find(dims.begin(), dims.end(), static_cast<int64_t>(d)) == dims.end()) shape.push_back(in[d]);
  return ctx.add_node(ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kSum), .dims = dims, .keepdim = false}, {x},
                      ctx.value(x).dtype, std::move(shape));
}

// Sums away the dims of `t` whose labels are not in `keep`.
Term reduce_to(ConvertContext& ctx, Term t, const std::set<int>& keep) {
  std::vector<int64_t> dims;
  std::vector<int> labels;
  for (size_t d = 0; d < t.labels.size(); ++d) {
    if (keep.count(t.labels[d])) labels.push_back(t.labels[d]);
    else dims.push_back(static_cast<int64_t>(d));
  }
  return Term{sum_dims(ctx, t.value, dims), labels};
}

int64_t size_of(ConvertContext& ctx, const Term& t, int label) {
  auto it = std::find(t.labels.begin(), t.labels.end(), label);
  return ctx.value(t.value).shape[static_cast<size_t>(it - t.labels.begin())];
}

// Permutes t to the label order `order` (a permutation of t.labels).
ValueId arrange(ConvertContext& ctx, const Term& t, const std::vector<int>& order) {
  std::vector<int64_t> perm;
  for (int l : order) perm.push_back(std::find(t.labels.begin(), t.labels.end(), l) - t.labels.begin());
  return permute(ctx, t.value, perm);
}

// Contracts a and b, keeping the labels in `keep` (those later operands or the
// output still need). Result labels: batch, a-only, b-only.
Result<Term> contract(ConvertContext& ctx, Term a, Term b, const std::set<int>& keep) {
  // A contracted label of size 1 on one side only broadcasts: sum_j a[0] * b[j] =
  // a[0] * sum_j b[j], so drop it from that side and let the other side sum it.
  for (Term* side : {&a, &b}) {
    Term& other = side == &a ? b : a;
    std::vector<int64_t> shape;
    std::vector<int> labels;
    for (size_t d = 0; d < side->labels.size(); ++d) {
      const int l = side->labels[d];
      const int64_t size = ctx.value(side->value).shape[d];
      const bool shared = std::find(other.labels.begin(), other.labels.end(), l) != other.labels.end();
      if (shared && !keep.count(l) && size == 1 && size_of(ctx, other, l) != 1) continue;
      shape.push_back(size);
      labels.push_back(l);
    }
    if (labels.size() != side->labels.size()) *side = Term{ctx.reshape(side->value, shape), labels};
  }
  const std::set<int> a_set(a.labels.begin(), a.labels.end()), b_set(b.labels.begin(), b.labels.end());
  // Labels only one side has and nobody needs are summed away first.
  std::set<int> a_keep = keep, b_keep = keep;
  a_keep.insert(b_set.begin(), b_set.end());
  b_keep.insert(a_set.begin(), a_set.end());
  a = reduce_to(ctx, a, a_keep);
  b = reduce_to(ctx, b, b_keep);
  std::vector<int> batch, a_only, b_only, summed;
  for (int l : a.labels) {
    bool in_b = std::find(b.labels.begin(), b.labels.end(), l) != b.labels.end();
    if (!in_b) a_only.push_back(l);
    else if (keep.count(l)) batch.push_back(l);
    else summed.push_back(l);
  }
  for (int l : b.labels)
    if (std::find(a.labels.begin(), a.labels.end(), l) == a.labels.end()) b_only.push_back(l);
  // Shared labels of size 1 on one side broadcast (as in torch.einsum).
  std::vector<int64_t> batch_sizes;
  int64_t batch_n = 1, m = 1, n = 1, k = 1;
  for (int l : batch) {
    int64_t sa = size_of(ctx, a, l), sb = size_of(ctx, b, l);
    if (sa != sb && sa != 1 && sb != 1) return ctx.error("einsum operands disagree on the size of a subscript");
    batch_sizes.push_back(std::max(sa, sb));
    batch_n *= batch_sizes.back();
  }
  for (int l : summed) {
    int64_t sa = size_of(ctx, a, l), sb = size_of(ctx, b, l);
    if (sa != sb) return ctx.error("einsum operands disagree on the size of a subscript");
    k *= sa;
  }
  std::vector<int64_t> a_sizes, b_sizes;
  for (int l : a_only) { a_sizes.push_back(size_of(ctx, a, l)); m *= a_sizes.back(); }
  for (int l : b_only) { b_sizes.push_back(size_of(ctx, b, l)); n *= b_sizes.back(); }

  std::vector<int> a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), a_only.begin(), a_only.end());
  a_order.insert(a_order.end(), summed.begin(), summed.end());
  b_order.insert(b_order.end(), summed.begin(), summed.end());
  b_order.insert(b_order.end(), b_only.begin(), b_only.end());
  ValueId av = arrange(ctx, a, a_order), bv = arrange(ctx, b, b_order);
  // Broadcast batch dims of size 1 before flattening them.
  auto expand_batch = [&](ValueId v) -> Result<ValueId> {
    std::vector<int64_t> shape = ctx.value(v).shape;
    for (size_t i = 0; i < batch.size(); ++i) shape[i] = batch_sizes[i];
    return expand_to(ctx, v, shape);
  };
  INGOT_ASSIGN_OR_RETURN(av, expand_batch(av));
  INGOT_ASSIGN_OR_RETURN(bv, expand_batch(bv));
  av = ctx.reshape(av, {batch_n, m, k});
  bv = ctx.reshape(bv, {batch_n, k, n});
  ValueId product = ctx.add_node(MatMulAttrs{}, {av, bv}, ctx.value(av).dtype, {batch_n, m, n});
  std::vector<int64_t> shape = batch_sizes;
  shape.insert(shape.end(), a_sizes.begin(), a_sizes.end());
  shape.insert(shape.end(), b_sizes.begin(), b_sizes.end());
  std::vector<int> labels = batch;
  labels.insert(labels.end(), a_only.begin(), a_only.end());
  labels.insert(labels.end(), b_only.begin(), b_only.end());
  return Term{ctx.reshape(product, shape), labels};
}

Status convert_einsum(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(std::string equation, ctx.get_string("equation"));
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> tensors, ctx.get_tensors("tensors"));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx, 0));
  if (tensors.empty()) return ctx.error("einsum needs at least one operand");
  if (!is_floating(out.dtype)) return ctx.unsupported_error("einsum is supported for floating-point tensors only");

  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::string> inputs;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    inputs.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (inputs.size() != tensors.size()) {
    return ctx.error("einsum equation '" + equation + "' names " + std::to_string(inputs.size()) + " operands, " +
                     std::to_string(tensors.size()) + " given");
  }
  // Width of the ellipsis: the widest over all operands.
  int64_t max_ellipsis = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].find("...") == std::string::npos) continue;
    int64_t letters = 0;
    for (char c : inputs[i]) letters += std::isalpha(static_cast<unsigned char>(c)) ? 1 : 0;
    max_ellipsis = std::max(max_ellipsis, static_cast<int64_t>(ctx.value(tensors[i]).shape.size()) - letters);
  }
  std::vector<Term> terms;
  std::map<int, int> occurrences;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ValueId v = ctx.cast(tensors[i], out.dtype);
    INGOT_ASSIGN_OR_RETURN(std::vector<int> labels,
                           parse_subscript(ctx, inputs[i], static_cast<int64_t>(ctx.value(v).shape.size()), max_ellipsis, false));
    if (std::set<int>(labels.begin(), labels.end()).size() != labels.size()) {
      return ctx.unsupported_error("einsum with a subscript repeated within one operand (a diagonal) is not supported");
    }
    for (int l : labels) ++occurrences[l];
    terms.push_back(Term{v, labels});
  }
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    INGOT_ASSIGN_OR_RETURN(out_labels, parse_subscript(ctx, equation.substr(arrow + 2), 0, max_ellipsis, true));
    for (int l : out_labels)
      if (!occurrences.count(l)) return ctx.error("einsum output subscript is not among the inputs' subscripts");
  } else {
    // Implicit output: the ellipsis dims, then the labels used once, alphabetically.
    for (int64_t k = 0; k < max_ellipsis; ++k) out_labels.push_back(kEllipsisBase + static_cast<int>(k));
    for (auto [label, count] : occurrences)
      if (count == 1 && label < kEllipsisBase) out_labels.push_back(label);
  }
  const std::set<int> out_set(out_labels.begin(), out_labels.end());

  Term result = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    std::set<int> keep = out_set;  // labels the output or a later operand needs
    for (size_t j = i + 1; j < terms.size(); ++j) keep.insert(terms[j].labels.begin(), terms[j].labels.end());
    INGOT_ASSIGN_OR_RETURN(result, contract(ctx, result, terms[i], keep));
  }
  result = reduce_to(ctx, result, out_set);
  ValueId y = arrange(ctx, result, out_labels);
  // Ellipsis dims of size 1 that broadcast only through the output shape.
  if (ctx.value(y).shape != out.shape && numel_of(ctx.value(y).shape) != numel_of(out.shape)) {
    INGOT_ASSIGN_OR_RETURN(y, expand_to(ctx, y, out.shape));
  }
  return bind_as_meta(ctx, 0, y);
}

}  // namespace

void register_einsum_converters(ConverterTable& t) { t.add("aten.einsum.default", convert_einsum); }

}  // namespace ingot::frontend
