// Precision lowering: rewrites a float32 (and float64) graph so that it computes
// in float16 or bfloat16 (`--precision fp16|bf16`), or, with target float32, only
// removes float64 compute (the CUDA backend has no float64 kernels).
//
// What it does, and why:
// - Every float32/float64 value a node produces becomes the target dtype. Integer,
//   bool and values the model itself made 16-bit are untouched.
// - The graph's IO keeps the model's dtypes: a Cast (model dtype -> low) is put
//   before the first use of each float input, and each float output gets a final
//   Cast (low -> model dtype). A user binds the same tensors whatever the precision.
// - Constants are converted at build time (round to nearest even, src/core/half.h)
//   into new constant values, one per dtype a node needs; the model's constant is
//   left as it was (DCE drops it when nothing reads it any more). Finite values
//   beyond the target's range are clamped to its largest finite value instead of
//   becoming inf: models write finfo(float32).min (-3.4e38) as "masked out", and
//   with -65504 a fully masked row still gives a finite softmax instead of NaN.
//   (PyTorch autocast leaves such a constant in fp32 and the add promotes, so the
//   clamp is our counterpart of that.) inf and NaN constants stay what they are.
//   Pad's constant value attribute is clamped the same way.
// - A few values stay float32 even at 16 bits, because the 16-bit result would be
//   wrong, not just rounded (the same choice PyTorch autocast makes with its fp32
//   op list):
//     * outputs of integer -> float casts (fp16 and bf16): positions, counts and
//       indices turned into floats must stay exact (fp16 is exact only up to 2048,
//       bf16 up to 256), or rotary embeddings and index arithmetic drift;
//     * outputs of Reduce sum/prod/var and Cumulative (fp16 only): they easily pass
//       fp16's 65504 limit (a sum of 4096 values of 16 already does); bf16 has
//       float32's range so it needs no exception. Their kernels read 16-bit input
//       and write float32 directly, so no input cast is needed.
//   Elementwise, data-movement and the remaining reduction ops that read such a
//   float32 value compute in float32 as well (the other operands are cast up), so
//   e.g. `x.sum(-1) / n` or `pos.float() * inv_freq` stay exact; compute-heavy ops
//   (matmul, gemm, conv, attention, normalizations, softmax, pooling, resizing)
//   read 16-bit inputs, and a float32 value they read is cast down there.
//   Kernels already compute softmax, norms, reductions, exp/log/pow in float32
//   internally with 16-bit IO, so nothing else needs float32.
// - Casts that become identities (a model's explicit .half() of a value that is
//   already fp16 now) are left for canonicalize/DCE, which the pipeline runs after.
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/half.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool is_16bit_float(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

// Largest finite value of a float dtype, as float32 (exact for all three).
float max_finite(DType t) {
  switch (t) {
    case DType::kFloat16: return 65504.0f;
    case DType::kBFloat16: return bf16_bits_to_float(0x7F7F);
    default: return std::numeric_limits<float>::max();
  }
}

enum class Role {
  kCompute,      // reads the low dtype: float32 inputs are cast down
  kPropagate,    // computes in float32 when any float input is float32
  kWidenOutput,  // writes float32 from whatever it reads (fp16 range)
  kCast,         // reads anything; output width decided by what it reads
};

Role role_of(const Node& n, DType target) {
  switch (n.kind()) {
    case OpKind::kCast:
      return Role::kCast;
    case OpKind::kReduce: {
      auto fn = static_cast<ReduceFn>(std::get<ReduceAttrs>(n.attrs).fn);
      bool overflows = fn == ReduceFn::kSum || fn == ReduceFn::kProd || fn == ReduceFn::kVar;
      return overflows && target == DType::kFloat16 ? Role::kWidenOutput : Role::kPropagate;
    }
    case OpKind::kCumulative:
      return target == DType::kFloat16 ? Role::kWidenOutput : Role::kPropagate;
    case OpKind::kReshape: case OpKind::kPermute: case OpKind::kExpand: case OpKind::kSlice:
    case OpKind::kConcat: case OpKind::kPad: case OpKind::kGather: case OpKind::kIndexSelect:
    case OpKind::kIndex: case OpKind::kSliceScatter: case OpKind::kWhere: case OpKind::kUnary:
    case OpKind::kBinary: case OpKind::kArgReduce: case OpKind::kTriangular:
      return Role::kPropagate;
    default:
      return Role::kCompute;
  }
}

// Reads element i of a float32/float64 constant as double.
double read_float(const uint8_t* data, DType t, size_t i) {
  if (t == DType::kFloat64) {
    double d;
    std::memcpy(&d, data + i * 8, 8);
    return d;
  }
  float f;
  std::memcpy(&f, data + i * 4, 4);
  return f;
}

class Lowering {
 public:
  Lowering(Graph& g, DType target, LowerPrecisionReport* report)
      : g_(g), target_(target), wide_(is_16bit_float(target) ? DType::kFloat32 : target), report_(report) {
    original_.reserve(g.num_values());
    for (const Value& v : g.values()) original_.push_back(v.dtype);
  }

  bool run() {
    bool any = false;
    for (DType t : original_) any = any || lowerable(t);
    if (!any) return false;

    std::vector<Node> old_nodes = std::move(g_.nodes());
    g_.set_nodes({});
    nodes_.reserve(old_nodes.size() + g_.inputs.size() + g_.outputs.size());
    for (Node& n : old_nodes) lower_node(std::move(n));
    restore_output_dtypes();
    g_.set_nodes(std::move(nodes_));
    return changed_;
  }

 private:
  bool lowerable(DType t) const {
    if (t == DType::kFloat64) return target_ != DType::kFloat64;
    return t == DType::kFloat32 && is_16bit_float(target_);
  }
  bool lowerable_value(ValueId v) const {
    return v != kNoValue && static_cast<size_t>(v) < original_.size() && lowerable(original_[static_cast<size_t>(v)]);
  }
  // Produced in float32 by this pass on purpose (graph inputs and constants never are).
  bool is_wide_now(ValueId v) const { return kept_wide_.count(v) != 0; }

  void lower_node(Node n) {
    const Role role = role_of(n, target_);
    DType compute = target_;
    switch (role) {
      case Role::kCompute:
        break;
      case Role::kWidenOutput:
        compute = wide_;
        break;
      case Role::kPropagate:
        for (ValueId in : n.inputs)
          if (lowerable_value(in) && is_wide_now(in)) compute = wide_;
        break;
      case Role::kCast: {
        ValueId in = n.inputs.empty() ? kNoValue : n.inputs[0];
        if (in != kNoValue && (is_integral(g_.value(in).dtype) || is_wide_now(in))) compute = wide_;
        break;
      }
    }
    // Inputs: a Cast reads any dtype, and the widening reductions read 16-bit or
    // float32 alike; everything else reads exactly the compute dtype.
    if (role == Role::kCompute || role == Role::kPropagate) {
      for (ValueId& in : n.inputs)
        if (lowerable_value(in)) in = value_as(in, compute, n.source);
    } else {
      // Constants still have the model's dtype: give these nodes a converted copy.
      for (ValueId& in : n.inputs)
        if (lowerable_value(in) && g_.value(in).is_constant()) in = value_as(in, compute, n.source);
    }
    for (ValueId out : n.outputs) {
      if (!lowerable_value(out)) continue;
      g_.value(out).dtype = compute;
      if (compute != target_) kept_wide_.insert(out);
      changed_ = true;
      if (report_) (compute == target_ ? report_->lowered_values : report_->kept_float32_values)++;
    }
    if (auto* pad = std::get_if<PadAttrs>(&n.attrs); pad && !n.outputs.empty()) {
      const float limit = max_finite(g_.value(n.outputs[0]).dtype);
      if (std::isfinite(pad->value) && std::abs(pad->value) > limit) pad->value = std::copysign(double(limit), pad->value);
    }
    nodes_.push_back(std::move(n));
  }

  // The value `v` in dtype `want`: itself, a converted constant, or a Cast's output
  // (one per value and dtype, so several readers share it).
  ValueId value_as(ValueId v, DType want, const SourceInfo& reader) {
    if (g_.value(v).dtype == want) return v;
    auto key = std::make_pair(v, want);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    ValueId result = g_.value(v).is_constant() ? convert_constant(v, want) : add_cast(v, want, reader);
    converted_[key] = result;
    changed_ = true;
    return result;
  }

  ValueId convert_constant(ValueId v, DType want) {
    const Value& src = g_.value(v);
    const size_t n = static_cast<size_t>(src.numel());
    const uint8_t* in = src.constant->data();
    auto bytes = std::make_shared<std::vector<uint8_t>>(n * dtype_size(want));
    const float limit = max_finite(want);
    int clamped = 0;
    for (size_t i = 0; i < n; ++i) {
      // Through float: the 16-bit conversions are defined from float32.
      double d = read_float(in, src.dtype, i);
      if (std::isfinite(d) && std::abs(d) > limit) {
        d = std::copysign(double(limit), d);
        ++clamped;
      }
      const float f = static_cast<float>(d);
      if (want == DType::kFloat16) {
        uint16_t h = float_to_half_bits(f);
        std::memcpy(bytes->data() + i * 2, &h, 2);
      } else if (want == DType::kBFloat16) {
        uint16_t b = float_to_bf16_bits(f);
        std::memcpy(bytes->data() + i * 2, &b, 2);
      } else {
        std::memcpy(bytes->data() + i * 4, &f, 4);
      }
    }
    if (report_) {
      ++report_->converted_constants;
      report_->clamped_elements += clamped;
    }
    std::string name = src.name + "." + dtype_name(want);
    std::vector<int64_t> shape = src.shape;
    std::vector<std::string> symbols = src.dim_symbols;
    ValueId id = g_.add_constant(std::move(name), want, std::move(shape), std::move(bytes));
    g_.value(id).dim_symbols = std::move(symbols);
    return id;
  }

  ValueId add_cast(ValueId v, DType want, const SourceInfo& source) {
    Value out;
    {
      const Value& src = g_.value(v);
      out.name = src.name + "." + dtype_name(want);
      out.shape = src.shape;
      out.dim_symbols = src.dim_symbols;
    }
    out.dtype = want;
    ValueId id = g_.add_value(std::move(out));
    Node cast;
    cast.attrs = CastAttrs{};
    cast.inputs = {v};
    cast.outputs = {id};
    cast.source = source;
    nodes_.push_back(std::move(cast));
    if (report_) ++report_->inserted_casts;
    return id;
  }

  // Graph outputs keep the model's dtypes: cast back what was lowered. The cast's
  // output takes the value's name so the IO looks as it did.
  void restore_output_dtypes() {
    std::map<ValueId, ValueId> restored;
    for (ValueId& out : g_.outputs) {
      if (out == kNoValue || static_cast<size_t>(out) >= original_.size()) continue;
      const DType model_dtype = original_[static_cast<size_t>(out)];
      if (g_.value(out).dtype == model_dtype) continue;
      if (auto it = restored.find(out); it != restored.end()) {
        out = it->second;
        continue;
      }
      SourceInfo source;
      for (const Node& n : nodes_)
        for (ValueId o : n.outputs)
          if (o == out) source = n.source;
      std::string model_name = g_.value(out).name;
      g_.value(out).name = model_name + "." + dtype_name(g_.value(out).dtype);
      ValueId cast = add_cast(out, model_dtype, source);
      g_.value(cast).name = model_name;
      restored[out] = cast;
      out = cast;
    }
  }

  Graph& g_;
  const DType target_;
  const DType wide_;
  LowerPrecisionReport* report_;
  std::vector<DType> original_;  // each value's dtype before the pass
  std::map<std::pair<ValueId, DType>, ValueId> converted_;
  std::set<ValueId> kept_wide_;
  std::vector<Node> nodes_;
  bool changed_ = false;
};

}  // namespace

bool run_lower_precision(Graph& g, DType target, LowerPrecisionReport* report) {
  if (target != DType::kFloat16 && target != DType::kBFloat16 && target != DType::kFloat32) return false;
  return Lowering(g, target, report).run();
}

}  // namespace ingot
