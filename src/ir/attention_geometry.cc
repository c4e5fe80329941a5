// Attention index space: see attention_geometry.h.
#include "ir/attention_geometry.h"

#include <algorithm>
#include <utility>

namespace ingot {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t product(const std::vector<int64_t>& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// A view of [batch, heads, rows, width] must stay inside a tensor of `numel` elements.
Status check_view(const AttnView& v, int64_t batch, int64_t heads, int64_t rows, int64_t width, int64_t numel,
                  const char* name, const std::string& who) {
  if (v.offset < 0 || v.stride_b < 0 || v.stride_h < 0 || v.stride_row < 0)
    return invalid_argument(who + " " + name + " view has a negative offset or stride");
  const int64_t last = v.offset + (batch - 1) * v.stride_b + (heads - 1) * v.stride_h + (rows - 1) * v.stride_row +
                       width;
  if (last > numel)
    return invalid_argument(who + " " + name + " view reaches element " + std::to_string(last) + " of a tensor of " +
                            std::to_string(numel));
  return Status::ok_status();
}

// Distinct (b, h, i, e) must land on distinct elements: with the dims sorted by
// stride, each stride must step over everything the smaller ones span.
bool view_is_injective(const AttnView& v, int64_t batch, int64_t heads, int64_t rows, int64_t width) {
  std::vector<std::pair<int64_t, int64_t>> dims = {{1, width}, {v.stride_row, rows}, {v.stride_h, heads},
                                                   {v.stride_b, batch}};
  std::sort(dims.begin(), dims.end());
  int64_t span = 0;  // elements covered by the dims so far, minus one
  for (const auto& [stride, extent] : dims) {
    if (extent == 1) continue;
    if (stride <= span) return false;
    span += (extent - 1) * stride;
  }
  return true;
}

}  // namespace

Result<AttnGeometry> attention_geometry(const AttentionAttrs& attrs, const std::vector<int64_t>& q_shape,
                                        const std::vector<int64_t>& k_shape, const std::vector<int64_t>& v_shape,
                                        const std::vector<int64_t>& out_shape, const std::string& who) {
  AttnGeometry g;
  if (!attrs.views.empty() || !attrs.dims.empty()) {
    if (attrs.views.size() != kAttnViewInts || attrs.dims.size() != kAttnDimInts)
      return invalid_argument(who + " strided attention needs 7 dims and 16 view values; got " +
                              std::to_string(attrs.dims.size()) + " and " + std::to_string(attrs.views.size()));
    const auto& d = attrs.dims;
    g.batch = d[0];
    g.hq = d[1];
    g.hkv = d[2];
    g.L = d[3];
    g.S = d[4];
    g.E = d[5];
    g.Ev = d[6];
    g.strided = true;
    for (int64_t x : d)
      if (x <= 0) return invalid_argument(who + " strided attention dims must be positive");
    if (g.hq % g.hkv != 0)
      return invalid_argument(who + " query heads " + std::to_string(g.hq) + " are not a multiple of kv heads " +
                              std::to_string(g.hkv));
    AttnView* views[] = {&g.q, &g.k, &g.v, &g.out};
    for (int t = 0; t < 4; ++t) {
      const auto* p = attrs.views.data() + 4 * t;
      *views[t] = AttnView{p[0], p[1], p[2], p[3]};
    }
    INGOT_RETURN_IF_ERROR(check_view(g.q, g.batch, g.hq, g.L, g.E, product(q_shape, 0, q_shape.size()), "q", who));
    INGOT_RETURN_IF_ERROR(check_view(g.k, g.batch, g.hkv, g.S, g.E, product(k_shape, 0, k_shape.size()), "k", who));
    INGOT_RETURN_IF_ERROR(check_view(g.v, g.batch, g.hkv, g.S, g.Ev, product(v_shape, 0, v_shape.size()), "v", who));
    INGOT_RETURN_IF_ERROR(
        check_view(g.out, g.batch, g.hq, g.L, g.Ev, product(out_shape, 0, out_shape.size()), "out", who));
    if (!view_is_injective(g.out, g.batch, g.hq, g.L, g.Ev))
      return invalid_argument(who + " the output view writes some elements twice");
    g.mask_space = {g.batch, g.hq, g.L, g.S};
    return g;
  }
  const size_t r = q_shape.size();
  if (r < 3 || k_shape.size() != r || v_shape.size() != r || out_shape.size() != r)
    return invalid_argument(who + " q, k, v and out must share a rank >= 3; got q " + shape_text(q_shape) + ", k " +
                            shape_text(k_shape) + ", v " + shape_text(v_shape) + ", out " + shape_text(out_shape));
  g.hq = q_shape[r - 3];
  g.L = q_shape[r - 2];
  g.E = q_shape[r - 1];
  g.hkv = k_shape[r - 3];
  g.S = k_shape[r - 2];
  g.Ev = v_shape[r - 1];
  g.batch = product(q_shape, 0, r - 3);
  const bool ok = k_shape[r - 1] == g.E && v_shape[r - 3] == g.hkv && v_shape[r - 2] == g.S && g.hkv > 0 &&
                  g.hq % g.hkv == 0 && product(k_shape, 0, r - 3) == g.batch &&
                  product(v_shape, 0, r - 3) == g.batch &&
                  product(out_shape, 0, r) == g.batch * g.hq * g.L * g.Ev && out_shape[r - 1] == g.Ev;
  if (!ok)
    return invalid_argument(who + " inconsistent shapes q " + shape_text(q_shape) + ", k " + shape_text(k_shape) +
                            ", v " + shape_text(v_shape) + ", out " + shape_text(out_shape));
  g.q = {0, g.hq * g.L * g.E, g.L * g.E, g.E};
  g.k = {0, g.hkv * g.S * g.E, g.S * g.E, g.E};
  g.v = {0, g.hkv * g.S * g.Ev, g.S * g.Ev, g.Ev};
  g.out = {0, g.hq * g.L * g.Ev, g.L * g.Ev, g.Ev};
  g.mask_space.assign(q_shape.begin(), q_shape.end() - 1);
  g.mask_space.push_back(g.S);
  return g;
}

}  // namespace ingot
