// Frontend unit tests without torch: hostile and legacy archives, a minimal
// hand-written .pt2 (weights rebuilt from a strided storage, schema defaults,
// non-finite floats, unknown keys), the importer's report on an unsupported op,
// source-location parsing, broadcasting and type promotion. Real torch-written
// archives are covered by the Python test suite.
#include <gtest/gtest.h>
#include <minizip/zip.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "frontend/convert_context.h"
#include "frontend/export_program.h"
#include "frontend/importer.h"
#include "frontend/schema_defaults.h"

namespace ingot::frontend {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

// A stored (uncompressed) zip with these entries, as bytes.
std::vector<uint8_t> make_zip(const Entries& entries) {
  auto path = std::filesystem::temp_directory_path() /
              ("ingot_test_frontend_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
               std::to_string(reinterpret_cast<uintptr_t>(&entries)) + ".zip");
  zipFile zf = zipOpen64(path.string().c_str(), APPEND_STATUS_CREATE);
  EXPECT_NE(zf, nullptr);
  for (const auto& [name, data] : entries) {
    zip_fileinfo info{};
    EXPECT_EQ(zipOpenNewFileInZip64(zf, name.c_str(), &info, nullptr, 0, nullptr, 0, nullptr, 0, 0, 0), ZIP_OK);
    EXPECT_EQ(zipWriteInFileInZip(zf, data.data(), static_cast<unsigned>(data.size())), ZIP_OK);
    EXPECT_EQ(zipCloseFileInZip(zf), ZIP_OK);
  }
  EXPECT_EQ(zipClose(zf, nullptr), ZIP_OK);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string meta(const std::string& sizes, const std::string& strides, int dtype = 7) {
  return R"({"dtype": )" + std::to_string(dtype) + R"(, "sizes": )" + sizes + R"(, "requires_grad": false,
     "device": {"type": "cpu", "index": null}, "strides": )" + strides +
         R"(, "storage_offset": {"as_int": 0}, "layout": 7})";
}

const char* kTrace = R"(File \"/home/u/proj/model.py\", line 9, in forward\n    y = frob(x + self.w)\n  File \"/usr/lib/python3/site-packages/torch/nn/functional.py\", line 100, in frob\n    return torch.ops.aten.frobnicate(x))";

// A two-input program: add(x, w) -> frobnicate (no converter) -> mul by +inf.
std::string model_json(int major = 8) {
  std::string m23 = meta(R"([{"as_int": 2}, {"as_int": 3}])", R"([{"as_int": 3}, {"as_int": 1}])");
  return R"({
  "schema_version": {"major": )" + std::to_string(major) + R"(, "minor": 99},
  "torch_version": "2.11.0", "verifiers": ["ATEN"], "range_constraints": {}, "a_future_field": [1, 2],
  "graph_module": {
    "graph": {
      "inputs": [{"as_tensor": {"name": "p_w"}}, {"as_tensor": {"name": "b_w2"}}, {"as_tensor": {"name": "x"}}],
      "outputs": [{"as_tensor": {"name": "mul"}}],
      "nodes": [
        {"target": "torch.ops.aten.add.Tensor", "name": "add",
         "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "x"}}, "kind": 1},
                    {"name": "other", "arg": {"as_tensor": {"name": "p_w"}}, "kind": 1}],
         "outputs": [{"as_tensor": {"name": "add"}}], "metadata": {"stack_trace": ")" + std::string(kTrace) + R"("}},
        {"target": "torch.ops.aten.frobnicate.default", "name": "frob",
         "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "add"}}, "kind": 1},
                    {"name": "how", "arg": {"as_future_tag": {"x": 1}}, "kind": 1}],
         "outputs": [{"as_tensor": {"name": "frob"}}], "metadata": {"stack_trace": ")" + std::string(kTrace) + R"("}},
        {"target": "torch.ops.aten.mul.Tensor",
         "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "frob"}}, "kind": 1},
                    {"name": "other", "arg": {"as_float": "Infinity"}, "kind": 1}],
         "outputs": [{"as_tensor": {"name": "mul"}}], "metadata": {}}
      ],
      "tensor_values": {"p_w": )" + m23 + R"(, "b_w2": )" + m23 + R"(, "x": )" + m23 + R"(, "add": )" + m23 +
         R"(, "frob": )" + m23 + R"(, "mul": )" + m23 + R"(},
      "sym_int_values": {}, "sym_bool_values": {}
    },
    "signature": {
      "input_specs": [{"parameter": {"arg": {"name": "p_w"}, "parameter_name": "w"}},
                      {"buffer": {"arg": {"name": "b_w2"}, "buffer_name": "w2", "persistent": true}},
                      {"user_input": {"arg": {"as_tensor": {"name": "x"}}}}],
      "output_specs": [{"user_output": {"arg": {"as_tensor": {"name": "mul"}}}}]
    },
    "module_call_graph": []
  }
})";
}

// w and w2 both view one 3x2 storage transposed: sizes [2,3], strides [1,2].
std::string weights_config(const std::string& storage_name = "weight_0") {
  std::string m = meta(R"([{"as_int": 2}, {"as_int": 3}])", R"([{"as_int": 1}, {"as_int": 2}])");
  return R"({"config": {
    "w": {"path_name": ")" + storage_name + R"(", "is_param": true, "use_pickle": false, "tensor_meta": )" + m + R"(},
    "w2": {"path_name": ")" + storage_name + R"(", "is_param": false, "use_pickle": false, "tensor_meta": )" + m + R"(}}})";
}

Entries valid_entries() {
  return {{"m/data/weights/weight_0", floats_bytes({0, 1, 2, 3, 4, 5})},
          {"m/data/weights/model_weights_config.json", weights_config()},
          {"m/data/constants/model_constants_config.json", R"({"config": {}})"},
          {"m/models/model.json", model_json()},
          {"m/archive_format", "pt2"},
          {"m/archive_version", "0"}};
}

Result<ExportedProgram> read(const Entries& entries, const std::string& name = "m.pt2") {
  auto bytes = make_zip(entries);
  return read_pt2_memory(bytes.data(), bytes.size(), name);
}

void expect_error(const Result<ExportedProgram>& r, StatusCode code, const std::string& fragment) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
}

// ------------------------------------------------------------------ reader

TEST(Pt2Reader, ReadsMinimalArchive) {
  auto r = read(valid_entries());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const ExportedProgram& ep = *r;
  EXPECT_EQ(ep.file_name, "m.pt2");
  EXPECT_EQ(ep.schema_major, 8);
  EXPECT_EQ(ep.content_hash.size(), 32u);
  ASSERT_EQ(ep.graph.nodes.size(), 3u);
  EXPECT_EQ(ep.graph.nodes[2].name, "mul");  // taken from the output when the file has no node name
  const Argument& inf = ep.graph.nodes[2].inputs[1].arg;
  EXPECT_EQ(inf.kind, Argument::Kind::kFloat);
  EXPECT_TRUE(std::isinf(inf.f) && inf.f > 0);
  EXPECT_EQ(ep.graph.nodes[1].inputs[1].arg.kind, Argument::Kind::kOther);
  EXPECT_EQ(ep.graph.nodes[1].inputs[1].arg.s, "as_future_tag");
  ASSERT_EQ(ep.user_input_names, std::vector<std::string>{"x"});

  // Transposed view of storage [[0,1],[2,3],[4,5]]: w[i][j] = storage[j*2 + i].
  ASSERT_EQ(ep.weights.count("w"), 1u);
  const TensorData& w = ep.weights.at("w");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(w.bytes->size(), 6 * sizeof(float));
  std::vector<float> got(6);
  std::memcpy(got.data(), w.bytes->data(), w.bytes->size());
  EXPECT_EQ(got, (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(ep.weights.at("w2").bytes.get(), w.bytes.get());  // same storage and view: shared bytes
}

TEST(Pt2Reader, SameBytesSameHash) {
  auto bytes = make_zip(valid_entries());
  auto a = read_pt2_memory(bytes.data(), bytes.size(), "a.pt2");
  auto b = read_pt2_memory(bytes.data(), bytes.size(), "b.pt2");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->content_hash, b->content_hash);
  bytes[bytes.size() / 2] ^= 1;
  auto c = read_pt2_memory(bytes.data(), bytes.size(), "c.pt2");
  if (c.ok()) EXPECT_NE(c->content_hash, a->content_hash);
}

TEST(Pt2Reader, RejectsNonZipBytes) {
  std::vector<uint8_t> junk(1000);
  std::mt19937 rng(1);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  auto r = read_pt2_memory(junk.data(), junk.size(), "junk.pt2");
  expect_error(r, StatusCode::kInvalidArgument, "not a zip");
  EXPECT_NE(r.status().message().find("junk.pt2"), std::string::npos);
}

TEST(Pt2Reader, RejectsEmptyAndMissingFiles) {
  auto r = read_pt2_memory(nullptr, 0, "empty.pt2");
  expect_error(r, StatusCode::kInvalidArgument, "empty");
  auto f = read_pt2_file("/nonexistent/dir/model.pt2");
  expect_error(f, StatusCode::kNotFound, "model.pt2");
}

TEST(Pt2Reader, RejectsZipWithoutModelJson) {
  expect_error(read({{"m/archive_format", "pt2"}, {"m/other.txt", "hi"}}), StatusCode::kInvalidArgument,
               "no models/*.json");
}

TEST(Pt2Reader, RejectsLegacyFormats) {
  expect_error(read({{"serialized_exported_program.json", "{}"}, {"version", "8.3"}}), StatusCode::kUnsupported,
               "2.7");
  Entries v28 = valid_entries();
  v28.erase(v28.begin(), v28.begin() + 3);  // drop the raw weights and configs
  v28.push_back({"m/data/weights/model.pt", "PK..."});
  expect_error(read(v28), StatusCode::kUnsupported, "2.8");
  expect_error(read({{"m/data.pkl", "x"}, {"m/code/", ""}, {"m/constants.pkl", ""}}), StatusCode::kInvalidArgument,
               "TorchScript");
}

TEST(Pt2Reader, RejectsOtherSchemaMajor) {
  Entries e = valid_entries();
  e[3].second = model_json(9);
  auto r = read(e);
  expect_error(r, StatusCode::kUnsupported, "9.99");
  EXPECT_NE(r.status().message().find("2.9"), std::string::npos);
}

TEST(Pt2Reader, RejectsWrongArchiveFormat) {
  Entries e = valid_entries();
  e[4].second = "zip";
  expect_error(read(e), StatusCode::kInvalidArgument, "archive_format");
}

TEST(Pt2Reader, RejectsWeightOutsideItsStorage) {
  Entries e = valid_entries();
  e[0].second = floats_bytes({0, 1, 2, 3});  // the view needs 6 elements
  expect_error(read(e), StatusCode::kCorrupt, "weight 'w'");
}

TEST(Pt2Reader, RejectsMissingWeight) {
  Entries e = valid_entries();
  e[1].second = R"({"config": {}})";
  expect_error(read(e), StatusCode::kCorrupt, "'w'");
}

TEST(Pt2Reader, RejectsPickledWeightOnlyWhenUsed) {
  Entries e = valid_entries();
  std::string cfg = weights_config();
  cfg.replace(cfg.find("\"use_pickle\": false"), 19, "\"use_pickle\": true");
  e[1].second = cfg;
  expect_error(read(e), StatusCode::kUnsupported, "pickle");
}

TEST(Pt2Reader, RejectsInvalidJson) {
  Entries e = valid_entries();
  e[3].second = "{\"schema_version\": {\"major\": 8,";
  expect_error(read(e), StatusCode::kCorrupt, "JSON");
  e[3].second = R"({"schema_version": {"major": 8, "minor": 1}, "graph_module": {"graph": {"nodes": 5}}})";
  expect_error(read(e), StatusCode::kCorrupt, "m.pt2");
}

TEST(Pt2Reader, TruncatedAndBitFlippedArchivesNeverCrash) {
  auto bytes = make_zip(valid_entries());
  for (size_t cut : {size_t{10}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 30, bytes.size() - 22}) {
    auto r = read_pt2_memory(bytes.data(), cut, "cut.pt2");
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    if (!r.ok()) EXPECT_NE(r.status().message().find("cut.pt2"), std::string::npos);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    auto copy = bytes;
    copy[rng() % copy.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    auto r = read_pt2_memory(copy.data(), copy.size(), "flip.pt2");  // must return, either way
    (void)r;
  }
  // A flipped byte inside the weight data fails the CRC check.
  auto copy = bytes;
  const uint8_t pattern[] = {0, 0, 0x80, 0x40};  // 4.0f, inside weight_0
  auto hit = std::search(copy.begin(), copy.end(), std::begin(pattern), std::end(pattern));
  ASSERT_NE(hit, copy.end());
  *hit ^= 1;
  expect_error(read_pt2_memory(copy.data(), copy.size(), "crc.pt2"), StatusCode::kCorrupt, "CRC");
}

TEST(Pt2Reader, ReadsTorchWrittenFixture) {
  const std::string path = std::string(INGOT_TEST_DATA_DIR) + "/pt211/tiny_cnn_aten.pt2";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found";
  auto r = read_pt2_file(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->schema_major, 8);
  EXPECT_EQ(r->file_name, "tiny_cnn_aten.pt2");
  EXPECT_FALSE(r->graph.nodes.empty());
  for (const InputSpecDef& s : r->input_specs)
    if (s.kind == InputSpecDef::Kind::kParameter) {
      ASSERT_EQ(r->weights.count(s.target), 1u) << s.target;
      const TensorData& t = r->weights.at(s.target);
      int64_t numel = 1;
      for (int64_t d : t.shape) numel *= d;
      EXPECT_EQ(t.bytes->size(), static_cast<size_t>(numel) * dtype_size(t.dtype)) << s.target;
    }
  // With no converters every node is reported, grouped by target, and the import still completes.
  auto imported = import_program(*r, ConverterTable{});
  ASSERT_TRUE(imported.ok()) << imported.status().to_string();
  int reported = 0;
  for (const UnsupportedOp& u : imported->report.unsupported) {
    EXPECT_EQ(u.reason, "no converter");
    EXPECT_EQ(imported->report.op_counts.at(u.target), u.count);
    reported += u.count;
  }
  EXPECT_EQ(static_cast<size_t>(reported), imported->report.num_nodes);
}

// ------------------------------------------------------------------ importer

Status convert_binary(ConvertContext& ctx, BinaryFn fn) {
  INGOT_ASSIGN_OR_RETURN(ValueId a, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId b, ctx.get_tensor("other"));
  INGOT_ASSIGN_OR_RETURN(double alpha, ctx.get_float("alpha"));  // schema default when absent
  if (ctx.target() == "aten.add.Tensor" && alpha != 1.0) return ctx.unsupported_error("alpha");
  auto ab = ctx.promote({a, b});
  return ctx.bind_output(0, ctx.binary(fn, ab[0], ab[1]));
}

TEST(Importer, ReportsUnsupportedOpsAndKeepsGoing) {
  auto r = read(valid_entries());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ConverterTable table;
  table.add("aten.add.Tensor", [](ConvertContext& c) { return convert_binary(c, BinaryFn::kAdd); });
  table.add("aten.mul.Tensor", [](ConvertContext& c) {
    if (c.arg("alpha")) return c.error("mul has no alpha");
    INGOT_ASSIGN_OR_RETURN(ValueId a, c.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(ValueId b, c.get_tensor("other"));
    if (!c.is_wrapped_number(b)) return c.error("expected a wrapped number");
    auto ab = c.promote({a, b});
    return c.bind_output(0, c.binary(BinaryFn::kMul, ab[0], ab[1]));
  });
  auto imported = import_program(*r, table);
  ASSERT_TRUE(imported.ok()) << imported.status().to_string();
  const SupportReport& rep = imported->report;
  EXPECT_EQ(rep.num_nodes, 3u);
  EXPECT_EQ(rep.op_counts.at("aten.frobnicate.default"), 1);
  ASSERT_EQ(rep.unsupported.size(), 1u);
  EXPECT_EQ(rep.unsupported[0].target, "aten.frobnicate.default");
  EXPECT_EQ(rep.unsupported[0].node_name, "frob");
  EXPECT_EQ(rep.unsupported[0].location, "model.py:9");
  EXPECT_EQ(rep.unsupported[0].code, "y = frob(x + self.w)");
  EXPECT_EQ(rep.unsupported[0].reason, "no converter");
  EXPECT_FALSE(rep.ok());

  const Graph& g = imported->graph;
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.output_names, std::vector<std::string>{"output.0"});
  EXPECT_EQ(g.value(g.outputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (std::vector<int64_t>{2, 3}));
  // The add node carries its source line.
  ASSERT_GE(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].source.location, "model.py:9");
  EXPECT_EQ(g.nodes()[0].source.aten_target, "aten.add.Tensor");
}

TEST(Importer, ConverterErrorsAreReportedWithTheirMessage) {
  auto r = read(valid_entries());
  ASSERT_TRUE(r.ok());
  ConverterTable table;
  table.add("aten.add.Tensor", [](ConvertContext& c) { return c.unsupported_error("add is on strike"); });
  table.add("aten.frobnicate.default", [](ConvertContext& c) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, c.get_tensor("self"));  // a placeholder for add's output
    return c.bind_output(0, c.cast(x, DType::kInt32));          // wrong dtype: caught by bind_output
  });
  auto imported = import_program(*r, table);
  ASSERT_TRUE(imported.ok());
  const auto& un = imported->report.unsupported;
  ASSERT_EQ(un.size(), 3u);
  EXPECT_EQ(un[0].reason, "add is on strike");
  EXPECT_NE(un[1].reason.find("internal error"), std::string::npos);
  EXPECT_NE(un[1].reason.find("int32"), std::string::npos);
  EXPECT_EQ(un[2].reason, "no converter");
}

// ------------------------------------------------------------------ helpers

TEST(SourceLocation, PicksInnermostUserFrame) {
  NodeDef n;
  n.metadata["stack_trace"] =
      "File \"/home/u/proj/train.py\", line 3, in <module>\n    out = model(x)\n"
      "  File \"/home/u/proj/model.py\", line 42, in forward\n    y = self.conv(x)  \n"
      "  File \"/opt/py/lib/python3.11/site-packages/torch/nn/modules/conv.py\", line 553, in forward\n"
      "    return self._conv_forward(input, self.weight, self.bias)";
  auto [loc, code] = user_source_location(n);
  EXPECT_EQ(loc, "model.py:42");
  EXPECT_EQ(code, "y = self.conv(x)");

  NodeDef lib;  // a model defined inside a library still gets a location outside torch
  lib.metadata["stack_trace"] =
      "File \"/x/site-packages/transformers/models/bert/modeling_bert.py\", line 99, in forward\n"
      "    e = self.word_embeddings(ids)\n"
      "  File \"/x/site-packages/torch/nn/modules/sparse.py\", line 190, in forward\n    return F.embedding(";
  EXPECT_EQ(user_source_location(lib).first, "modeling_bert.py:99");

  NodeDef none;
  EXPECT_EQ(user_source_location(none).first, "");
  NodeDef only_torch;
  only_torch.metadata["stack_trace"] = "File \"torch/fx/passes/runtime_assert.py\", line 24, in f";
  EXPECT_EQ(user_source_location(only_torch).first, "");
}

TEST(Shapes, BroadcastAndNormalizeDim) {
  EXPECT_EQ(*broadcast_shapes({2, 1, 4}, {3, 1}), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(*broadcast_shapes({}, {5}), (std::vector<int64_t>{5}));
  EXPECT_EQ(*broadcast_shapes({0, 1}, {1, 3}), (std::vector<int64_t>{0, 3}));
  EXPECT_FALSE(broadcast_shapes({2, 3}, {4}).has_value());
  EXPECT_EQ(normalize_dim(-1, 4).value(), 3);
  EXPECT_EQ(normalize_dim(0, 0).value(), 0);
  EXPECT_FALSE(normalize_dim(4, 4).ok());
  EXPECT_FALSE(normalize_dim(-5, 4).ok());
}

TEST(SchemaDefaults, LooksUpTypedDefaults) {
  const Argument* alpha = schema_default("aten.add.Tensor", "alpha");
  ASSERT_NE(alpha, nullptr);
  EXPECT_EQ(alpha->kind, Argument::Kind::kInt);
  EXPECT_EQ(alpha->i, 1);
  const Argument* padding = schema_default("aten.max_pool2d_with_indices.default", "padding");
  ASSERT_NE(padding, nullptr);
  EXPECT_EQ(padding->ints, (std::vector<int64_t>{0, 0}));
  const Argument* stride = schema_default("aten.max_pool2d_with_indices.default", "stride");
  ASSERT_NE(stride, nullptr);
  EXPECT_EQ(stride->kind, Argument::Kind::kInts);
  EXPECT_TRUE(stride->ints.empty());
  const Argument* approx = schema_default("aten.gelu.default", "approximate");
  ASSERT_NE(approx, nullptr);
  EXPECT_EQ(approx->s, "none");
  const Argument* eps = schema_default("aten.batch_norm.default", "eps");
  EXPECT_EQ(eps, nullptr);  // batch_norm's eps has no default
  const Argument* dtype = schema_default("aten.mean.dim", "dtype");
  ASSERT_NE(dtype, nullptr);
  EXPECT_EQ(dtype->kind, Argument::Kind::kNone);
  const Argument* keepdim = schema_default("aten.mean.dim", "keepdim");
  ASSERT_NE(keepdim, nullptr);
  EXPECT_FALSE(keepdim->b);
  EXPECT_EQ(schema_default("aten.no_such_op.default", "x"), nullptr);
  const auto* names = schema_arg_names("aten.convolution.default");
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(names->size(), 9u);
  EXPECT_EQ(names->front(), "input");
}

// result_type over hand-built values: expectations are torch.result_type's.
class Promotion : public ::testing::Test {
 protected:
  ValueId tensor(DType t, std::vector<int64_t> shape) {
    Value v;
    v.dtype = t;
    v.shape = std::move(shape);
    return state.graph.add_value(v);
  }
  ValueId wrapped(DType logical) {
    ValueId v = tensor(logical == DType::kFloat32 ? DType::kFloat32 : logical, {});
    state.wrapped[v] = WrappedNumber{1.0, logical};
    return v;
  }
  ImportState state;
  GraphDef gdef;
  ImportScope scope{&gdef, {}, {}};
  NodeDef node;
};

TEST_F(Promotion, FollowsTorchResultType) {
  NodeConvertContext ctx(state, scope, node);
  // torch.result_type(torch.ones(2, dtype=torch.int32), 2.5) == float32
  EXPECT_EQ(ctx.result_type({tensor(DType::kInt32, {2}), wrapped(DType::kFloat32)}), DType::kFloat32);
  // bool tensor + python int -> int64
  EXPECT_EQ(ctx.result_type({tensor(DType::kBool, {2}), wrapped(DType::kInt64)}), DType::kInt64);
  // float16 tensor + python float stays float16; int8 tensor + python int stays int8
  EXPECT_EQ(ctx.result_type({tensor(DType::kFloat16, {2}), wrapped(DType::kFloat32)}), DType::kFloat16);
  EXPECT_EQ(ctx.result_type({tensor(DType::kInt8, {2}), wrapped(DType::kInt64)}), DType::kInt8);
  // int32 tensor + 0-d int64 tensor -> int32; int64 tensor + 0-d float64 tensor -> float64
  EXPECT_EQ(ctx.result_type({tensor(DType::kInt32, {2}), tensor(DType::kInt64, {})}), DType::kInt32);
  EXPECT_EQ(ctx.result_type({tensor(DType::kInt64, {2}), tensor(DType::kFloat64, {})}), DType::kFloat64);
  // float16 tensor + 0-d float64 tensor -> float16 (same category)
  EXPECT_EQ(ctx.result_type({tensor(DType::kFloat16, {2}), tensor(DType::kFloat64, {})}), DType::kFloat16);
  // dim tensors promote fully: uint8 + int8 -> int16, float16 + bfloat16 -> float32
  EXPECT_EQ(ctx.result_type({tensor(DType::kUInt8, {2}), tensor(DType::kInt8, {2})}), DType::kInt16);
  EXPECT_EQ(ctx.result_type({tensor(DType::kFloat16, {2}), tensor(DType::kBFloat16, {2})}), DType::kFloat32);
  // 0-d bool with 0-d python float -> float32
  EXPECT_EQ(ctx.result_type({tensor(DType::kBool, {}), wrapped(DType::kFloat32)}), DType::kFloat32);
}

TEST_F(Promotion, CastAndReshapeBuildingBlocks) {
  NodeConvertContext ctx(state, scope, node);
  ValueId x = tensor(DType::kFloat32, {2, 6});
  ValueId r = ctx.reshape(x, {3, -1});
  EXPECT_EQ(state.graph.value(r).shape, (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(ctx.deferred_status().ok());
  EXPECT_EQ(ctx.cast(x, DType::kFloat32), x);
  ValueId w = ctx.cast(wrapped(DType::kFloat32), DType::kFloat16);  // re-made, no cast node
  EXPECT_TRUE(state.graph.value(w).is_constant());
  EXPECT_TRUE(ctx.is_wrapped_number(w));
  ValueId u = ctx.unary(UnaryFn::kLogicalNot, x);
  EXPECT_EQ(state.graph.value(u).dtype, DType::kBool);
  ValueId b = ctx.binary(BinaryFn::kLt, x, tensor(DType::kFloat32, {6}));
  EXPECT_EQ(state.graph.value(b).dtype, DType::kBool);
  EXPECT_EQ(state.graph.value(b).shape, (std::vector<int64_t>{2, 6}));
  ctx.reshape(x, {5, -1});
  EXPECT_FALSE(ctx.deferred_status().ok());
}

}  // namespace
}  // namespace ingot::frontend
