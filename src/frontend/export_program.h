// The parsed contents of a torch.export .pt2 archive (PyTorch 2.9+), reduced to
// what conversion needs: the graph JSON as typed structs plus the weights and
// constants rebuilt as dense tensors. See shared reference torch-export-format.md.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/graph.h"

namespace ingot::frontend {

struct GraphDef;

// One `Argument` union value of the export schema.
struct Argument {
  enum class Kind {
    kNone, kTensor, kTensors, kOptionalTensors, kInt, kInts, kFloat, kFloats, kBool, kBools,
    kString, kStrings, kScalarType, kMemoryFormat, kLayout, kDevice, kSymInt, kSymInts,
    kSymFloat, kSymBool, kGraph, kOther
  };
  Kind kind = Kind::kNone;
  std::string name;                   // kTensor: value name; kSymInt/kSymFloat/kSymBool: symbol value name ("" = literal)
  std::vector<std::string> names;     // kTensors; kOptionalTensors ("" = None); kSymInts (per element, "" = literal)
  int64_t i = 0;                      // kInt, kScalarType (export ScalarType number), kMemoryFormat, kLayout, literal kSymInt
  double f = 0;                       // kFloat (may be +-inf/nan), literal kSymFloat
  bool b = false;                     // kBool, literal kSymBool
  std::string s;                      // kString; kDevice type ("cpu"); kOther: the unknown tag
  std::vector<int64_t> ints;          // kInts; kSymInts literals / hints
  std::vector<double> floats;         // kFloats
  std::vector<bool> bools;            // kBools
  std::vector<std::string> strings;   // kStrings
  std::shared_ptr<GraphDef> graph;    // kGraph (higher-order op subgraph)
};

struct NamedArg {
  std::string name;  // schema argument name ("" for higher-order op positional args)
  Argument arg;
};

struct NodeDef {
  std::string target;                // "torch.ops.aten.convolution.default"
  std::vector<NamedArg> inputs;
  std::vector<Argument> outputs;
  std::string name;                  // FX node name (may be empty in old files)
  std::map<std::string, std::string> metadata;  // stack_trace, nn_module_stack, ...
};

struct TensorMetaDef {
  int64_t scalar_type = 0;                 // export ScalarType number
  std::optional<DType> dtype;              // nullopt when ingot has no such dtype (complex, fp8)
  std::vector<int64_t> sizes;              // concrete (symbolic dims use their hint, or -1 when none)
  std::vector<std::string> size_symbols;   // per dim: "" or the symbol ("s77")
};

struct GraphDef {
  std::vector<Argument> inputs;
  std::vector<Argument> outputs;
  std::vector<NodeDef> nodes;
  std::map<std::string, TensorMetaDef> tensor_values;
  std::map<std::string, Argument> sym_int_values;  // name -> literal or expression (kSymInt, s = expr_str)
};

struct InputSpecDef {
  enum class Kind { kUserInput, kParameter, kBuffer, kTensorConstant, kCustomObj, kConstantInput, kToken };
  Kind kind = Kind::kUserInput;
  std::string arg_name;   // placeholder name in the graph
  std::string target;     // parameter/buffer/constant FQN
  bool persistent = true; // buffers
  Argument value;         // kUserInput: the argument (tensor or constant); kConstantInput: the value
};

struct OutputSpecDef {
  enum class Kind { kUserOutput, kLossOutput, kBufferMutation, kGradientToParameter, kGradientToUserInput,
                    kUserInputMutation, kToken, kParameterMutation };
  Kind kind = Kind::kUserOutput;
  Argument arg;
  std::string target;
};

// A weight or constant as a dense, contiguous tensor (as_strided already applied).
struct TensorData {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  ConstantData bytes;  // shared between tied weights
};

struct ExportedProgram {
  std::string file_name;      // base name of the archive
  std::string content_hash;   // xxh3-128 hex of the archive bytes
  int schema_major = 0, schema_minor = 0;
  std::vector<std::string> verifiers;   // ["TRAINING"] or ["ATEN"]
  std::string torch_version;
  GraphDef graph;
  std::vector<InputSpecDef> input_specs;
  std::vector<OutputSpecDef> output_specs;
  std::map<std::string, SymbolRange> range_constraints;
  std::vector<std::string> user_input_names;  // from the module call graph when known, else placeholder names
  std::vector<std::string> user_output_names; // from the root out_spec when it names its leaves (HF ModelOutput), else empty
  std::map<std::string, TensorData> weights;  // FQN -> tensor (parameters, buffers, constants)
};

// Shapes asked for user inputs by name (`ingot convert --input-shape x=8x3x224x224`).
using InputShapes = std::map<std::string, std::vector<int64_t>>;

// Reads and validates an archive. Errors name the file and what is wrong with it:
// not a zip, no model JSON, unsupported schema major, legacy pickled weights...
// With `shapes`, a model exported with dynamic dims is read at those input shapes:
// every symbolic size takes the value they give (specialize.cc) instead of the
// example inputs'.
Result<ExportedProgram> read_pt2_file(const std::string& path, const InputShapes* shapes = nullptr);
Result<ExportedProgram> read_pt2_memory(const void* data, size_t size, const std::string& display_name,
                                        const InputShapes* shapes = nullptr);

// The symbol values that give the user inputs `shapes` (specialize.cc): errors name
// the input and dim that cannot take the size asked (static, out of range, conflicting).
Result<std::map<std::string, int64_t>> symbol_values_for_shapes(const ExportedProgram& ep, const InputShapes& shapes);

// "model.py:42" and the code line, from a node's stack_trace metadata: the last
// frame that is not inside torch/transformers/torchvision library code.
std::pair<std::string, std::string> user_source_location(const NodeDef& node);

}  // namespace ingot::frontend
