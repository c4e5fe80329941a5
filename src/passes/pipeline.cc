// The pass pipeline: the one place that decides which passes run and in what
// order. The graph is verified after every pass so a broken pass is caught and
// named at build time instead of producing a wrong engine.
//
// Precision lowering runs last, after the cleanup rounds (and after fusion, when
// that exists), and at every optimization level because it decides what the
// engine computes, not how fast:
// - constant folding, BatchNorm folding and CSE then work on the model's own
//   float32 values, so folded weights are rounded to 16 bits once, not after
//   every folding step;
// - pattern-matching passes see the model's ops without the casts lowering adds;
// - lowering inserts IO casts and converted constant copies; a canonicalize/DCE
//   round after it removes the casts that became identities and the float32
//   constants nothing reads any more.
#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "passes/passes.h"

#include "ingot/dtype.h"

namespace ingot {

namespace {

// Upper bound on cleanup rounds; each round only ever shrinks the graph, so
// real models settle in two or three.
constexpr int kMaxRounds = 8;

// Fusion, in order (see run_fusion); `applies` says whether a build runs the step.
struct FusionStep {
  const char* name;
  bool (*run)(Graph&);
  bool (*applies)(const BuildOptions&);
};
bool always(const BuildOptions&) { return true; }
const FusionStep kFusionSteps[] = {
    {"recognize_gelu", run_recognize_gelu, always},
    {"fuse_norm", run_fuse_norm, always},
    {"fuse_attention", run_fuse_attention, always},
    {"conv_as_gemm", run_conv_as_gemm, always},
    {"fuse_conv", run_fuse_conv, always},
    {"layout_channels_last", run_layout_channels_last, [](const BuildOptions& o) { return o.backend == "cuda"; }},
    {"fuse_gemm", run_fuse_gemm, always},
    {"collapse_view_chains", run_collapse_view_chains, always},
    {"fuse_pointwise", run_fuse_pointwise, [](const BuildOptions& o) { return o.optimization_level >= 2; }},
};

// The passes after fusion that BuildOptions::disabled_passes may name too
// (`ingot convert --disable-pass`); ".residual": only the residual stays in the Gemm.
const char* const kLatePasses[] = {"hoist_slices", "fold_gemm_bias_into_norm", "fold_gemm_bias_into_norm.residual",
                                   "fold_reformat"};

bool pass_enabled(const BuildOptions& options, const std::string& name) {
  return std::find(options.disabled_passes.begin(), options.disabled_passes.end(), name) ==
         options.disabled_passes.end();
}

Status check_disabled_passes(const BuildOptions& options) {
  std::vector<std::string> known;
  for (const FusionStep& step : kFusionSteps) known.emplace_back(step.name);
  known.insert(known.end(), std::begin(kLatePasses), std::end(kLatePasses));
  for (const std::string& name : options.disabled_passes) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    return invalid_argument("cannot disable pass '" + name + "': the passes that can be disabled are " + list);
  }
  return Status::ok_status();
}

Status verified(const Graph& g, const char* pass) {
  Status st = verify_graph(g);
  return st.ok() ? st : st.with_context(std::string("after pass '") + pass + "'");
}

bool has_float64(const Graph& g) {
  for (const Value& v : g.values())
    if (v.dtype == DType::kFloat64) return true;
  return false;
}

// The dtype the engine computes in: the requested 16-bit type, or float32 when
// only float64 must go (the CUDA backend has no float64 kernels; the CPU backend
// computes float64 as the model asks). nullopt: nothing to lower.
std::optional<DType> lowering_target(const Graph& g, const BuildOptions& options) {
  if (options.precision == "fp16") return DType::kFloat16;
  if (options.precision == "bf16") return DType::kBFloat16;
  if (options.backend == "cuda" && has_float64(g)) return DType::kFloat32;
  return std::nullopt;
}

Status lower_precision(Graph& g, const BuildOptions& options, const std::function<void(const std::string&)>& say) {
  std::optional<DType> target = lowering_target(g, options);
  if (!target) return Status::ok_status();
  const bool had_float64 = has_float64(g);
  LowerPrecisionReport report;
  if (!run_lower_precision(g, *target, &report)) return Status::ok_status();
  INGOT_RETURN_IF_ERROR(verified(g, "lower_precision"));
  // Drop casts that became identities and the constants only the model's float32 ops read.
  run_canonicalize(g);
  INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
  run_dce(g);
  INGOT_RETURN_IF_ERROR(verified(g, "dce"));
  if (*target == DType::kFloat32) {
    say("  float64 compute lowered to float32 (the CUDA backend has no float64 kernels); float64 inputs and "
        "outputs keep their dtype through casts");
  } else {
    std::string line = "  lowered to " + std::string(dtype_name(*target)) + ": " +
                       std::to_string(report.lowered_values) + " values, " +
                       std::to_string(report.converted_constants) + " constants, " +
                       std::to_string(report.inserted_casts) + " casts added";
    if (report.kept_float32_values)
      line += ", " + std::to_string(report.kept_float32_values) + " values kept in float32 (range or exactness)";
    if (had_float64) line += "; float64 values lowered too";
    say(line);
  }
  if (report.clamped_elements)
    say("  " + std::to_string(report.clamped_elements) + " constant elements were beyond " + dtype_name(*target) +
        "'s range and were clamped to its largest finite value");
  return Status::ok_status();
}

// Fusion after the cleanup rounds, so patterns are matched on folded, deduplicated
// graphs (BatchNorm already inside the conv weights). Conv fusion runs before the
// layout pass (one fused conv is one layout decision), pointwise fusion last so
// that it only takes the elementwise ops the conv and gemm epilogues did not.
Status run_fusion(Graph& g, const BuildOptions& options, const std::function<void(const std::string&)>& say) {
  for (const FusionStep& step : kFusionSteps) {
    if (!step.applies(options) || !pass_enabled(options, step.name)) continue;
    const size_t before = g.num_nodes();
    if (!step.run(g)) continue;
    INGOT_RETURN_IF_ERROR(verified(g, step.name));
    // Fusion leaves the replaced nodes behind; drop them and fold what became trivial.
    run_canonicalize(g);
    INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
    run_dce(g);
    INGOT_RETURN_IF_ERROR(verified(g, "dce"));
    say(std::string("  ") + step.name + ": " + std::to_string(before) + " -> " + std::to_string(g.num_nodes()) +
        " nodes");
  }
  return Status::ok_status();
}

// Attention data movement, after lowering because on cuda whether a step can be
// folded depends on the dtype its kernel gets (flash runs fp16/bf16). Sibling
// projections are merged first so their slices fold into the attention's views.
// On cuda, bool masks then become shared additive ones (in the lowered dtype).
Status fold_attention(Graph& g, const BuildOptions& options, const std::function<void(const std::string&)>& say) {
  const bool cuda = options.backend == "cuda";
  const size_t before = g.num_nodes();
  bool changed = false;
  if (run_merge_sibling_gemms(g, /*attention_operands_only=*/true, cuda)) {
    INGOT_RETURN_IF_ERROR(verified(g, "merge_sibling_gemms"));
    changed = true;
  }
  if (run_fold_attention_views(g, cuda)) {
    INGOT_RETURN_IF_ERROR(verified(g, "fold_attention_views"));
    changed = true;
  }
  if (cuda && run_additive_attention_masks(g)) {
    INGOT_RETURN_IF_ERROR(verified(g, "additive_attention_masks"));
    changed = true;
  }
  if (!changed) return Status::ok_status();
  run_canonicalize(g);
  INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
  run_dce(g);
  INGOT_RETURN_IF_ERROR(verified(g, "dce"));
  say("  fold_attention_views: " + std::to_string(before) + " -> " + std::to_string(g.num_nodes()) + " nodes");
  return Status::ok_status();
}

}  // namespace

Status run_pipeline(Graph& g, const BuildOptions& options, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  INGOT_RETURN_IF_ERROR(check_disabled_passes(options));
  INGOT_RETURN_IF_ERROR(verified(g, "import"));
  if (options.optimization_level <= 0) {
    // Level 0 builds fastest: only remove what no output needs.
    run_dce(g);
    INGOT_RETURN_IF_ERROR(verified(g, "dce"));
    return lower_precision(g, options, say);
  }
  for (int round = 0; round < kMaxRounds; ++round) {
    bool changed = false;
    // Canonicalize first: removing identities and collapsing chains exposes
    // constant subgraphs (a reshape of a weight) and duplicates to the passes below.
    changed |= run_canonicalize(g);
    INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
    // Fold constants before CSE so equal folded constants can be merged, and so
    // BatchNorm folding sees the conv weights as constants.
    changed |= run_constant_fold(g);
    INGOT_RETURN_IF_ERROR(verified(g, "constant_fold"));
    // CSE after folding: duplicates often differ only in a constant operand that
    // folding or constant merging just made identical.
    changed |= run_cse(g);
    INGOT_RETURN_IF_ERROR(verified(g, "cse"));
    // DCE last: the passes above only rewire uses; this drops what they bypassed
    // and compacts the value table (node and value ids change here).
    changed |= run_dce(g);
    INGOT_RETURN_IF_ERROR(verified(g, "dce"));
    if (!changed) break;
    say("  optimization round " + std::to_string(round + 1) + ": " + std::to_string(g.num_nodes()) + " nodes");
  }
  INGOT_RETURN_IF_ERROR(run_fusion(g, options, say));
  INGOT_RETURN_IF_ERROR(lower_precision(g, options, say));
  INGOT_RETURN_IF_ERROR(fold_attention(g, options, say));
  // After the attention views exist (it narrows them); before fold_reformat, which
  // only looks at the model's inputs.
  if (const int narrowed = pass_enabled(options, "hoist_slices") ? run_hoist_slices(g) : 0) {
    INGOT_RETURN_IF_ERROR(verified(g, "hoist_slices"));
    run_canonicalize(g);
    INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
    run_dce(g);
    INGOT_RETURN_IF_ERROR(verified(g, "dce"));
    say("  hoist_slices: " + std::to_string(narrowed) + " ops compute only the rows a later slice keeps");
  }
  // After hoist_slices, which narrows norms and gemms in their usual form.
  if (const int moved =
          pass_enabled(options, "fold_gemm_bias_into_norm")
              ? run_fold_gemm_bias_into_norm(g, pass_enabled(options, "fold_gemm_bias_into_norm.residual"))
              : 0) {
    INGOT_RETURN_IF_ERROR(verified(g, "fold_gemm_bias_into_norm"));
    say("  fold_gemm_bias_into_norm: " + std::to_string(moved) + " gemm biases added in the layer norm that follows");
  }
  // Last: a Reformat is no permute to the pattern-matching passes above (which
  // treat permutes as dtype-preserving views), and the input and output casts
  // it absorbs exist only after lowering.
  if (pass_enabled(options, "fold_reformat") && run_fold_reformat(g)) {
    INGOT_RETURN_IF_ERROR(verified(g, "fold_reformat"));
    run_canonicalize(g);
    INGOT_RETURN_IF_ERROR(verified(g, "canonicalize"));
    run_dce(g);
    INGOT_RETURN_IF_ERROR(verified(g, "dce"));
    say("  fold_reformat: casts merged into permutes, " + std::to_string(g.num_nodes()) + " nodes");
  }
  return Status::ok_status();
}

}  // namespace ingot
