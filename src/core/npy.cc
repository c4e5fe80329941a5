// NumPy .npy reading and writing, by hand: the format is a magic string, a
// version, a short Python-dict header and the raw bytes, and Debian packages no
// maintained C++ .npy library (cnpy and libnpy are unmaintained single headers
// that trust their input). This parser trusts nothing: every length is checked
// and only the dict literal that numpy writes is accepted.
#include "core/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

namespace ingot::npy {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeaderLen = 1 << 20;  // numpy itself caps headers far lower
constexpr size_t kMaxRank = 32;

struct DescrEntry {
  const char* descr;
  DType dtype;
};
// numpy writes '|' for one-byte types and '<' for the rest on little-endian hosts.
constexpr DescrEntry kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f2", DType::kFloat16}, {"<f8", DType::kFloat64}, {"<i8", DType::kInt64},
    {"<i4", DType::kInt32},   {"<i2", DType::kInt16},   {"|i1", DType::kInt8},    {"|u1", DType::kUInt8},
    {"|b1", DType::kBool},
};

// A tiny tokenizer for the header dict, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : s_(text) {}

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  std::optional<std::string> string() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return std::nullopt;
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) return std::nullopt;
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  std::optional<bool> boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return std::nullopt;
  }
  std::optional<int64_t> integer() {
    skip_space();
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v)) return std::nullopt;
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs in very old files
    if (pos_ == start) return std::nullopt;
    return v;
  }
  // "(2, 3)", "(3,)" or "()"
  std::optional<std::vector<int64_t>> shape() {
    if (!eat('(')) return std::nullopt;
    std::vector<int64_t> dims;
    while (!eat(')')) {
      auto d = integer();
      if (!d || dims.size() >= kMaxRank) return std::nullopt;
      dims.push_back(*d);
      if (!eat(',') && !peek(')')) return std::nullopt;
    }
    return dims;
  }
  bool at_end() {
    skip_space();
    return pos_ == s_.size();
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

uint64_t read_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

const char* descr_of(DType dtype) {
  for (const auto& e : kDescrs)
    if (e.dtype == dtype) return e.descr;
  return nullptr;
}

std::optional<uint64_t> checked_nbytes(DType dtype, const std::vector<int64_t>& shape) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

}  // namespace

Result<Array> parse(const void* data, size_t size, const std::string& name) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  auto bad = [&](const std::string& what) { return invalid_argument("'" + name + "' is not a valid .npy file: " + what); };
  if (size < kMagicLen + 4 || std::memcmp(bytes, kMagic, kMagicLen) != 0) return bad("bad magic");
  const uint8_t major = bytes[6];
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = read_le(bytes + 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return bad("truncated header");
    header_len = read_le(bytes + 8, 4);
    header_start = 12;
  } else {
    return unsupported("'" + name + "' uses .npy format version " + std::to_string(major) +
                       " (supported: 1, 2 and 3)");
  }
  if (header_len > kMaxHeaderLen || header_len > size - header_start) return bad("truncated header");

  HeaderParser p(std::string_view(reinterpret_cast<const char*>(bytes + header_start), header_len));
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  if (!p.eat('{')) return bad("header is not a dict");
  while (!p.eat('}')) {
    auto key = p.string();
    if (!key || !p.eat(':')) return bad("malformed header dict");
    if (*key == "descr") {
      descr = p.string();
      if (!descr) return unsupported("'" + name + "' holds a structured array, which ingot does not support");
    } else if (*key == "fortran_order") {
      fortran = p.boolean();
      if (!fortran) return bad("fortran_order is not True or False");
    } else if (*key == "shape") {
      shape = p.shape();
      if (!shape) return bad("malformed shape");
    } else {
      return bad("unknown header key '" + *key + "'");
    }
    if (!p.eat(',') && !p.peek('}')) return bad("malformed header dict");
  }
  if (!p.at_end()) return bad("junk after the header dict");
  if (!descr || !fortran || !shape) return bad("header lacks descr, fortran_order or shape");
  if (*fortran)
    return unsupported("'" + name + "' is stored in Fortran order; save it with np.ascontiguousarray first");

  Array array;
  bool known = false;
  for (const auto& e : kDescrs) {
    // '<' and '|' are interchangeable for one-byte types.
    bool match = *descr == e.descr ||
                 (descr->size() == 3 && e.descr[2] == '1' && descr->substr(1) == e.descr + 1 &&
                  ((*descr)[0] == '<' || (*descr)[0] == '|'));
    if (match) {
      array.dtype = e.dtype;
      known = true;
      break;
    }
  }
  if (!known) {
    if (!descr->empty() && (*descr)[0] == '>')
      return unsupported("'" + name + "' is big-endian (" + *descr + "); save it as little-endian");
    return unsupported("'" + name + "' has dtype '" + *descr +
                       "', which ingot does not support (float16/32/64, int8/16/32/64, uint8, bool)");
  }
  array.shape = *shape;
  auto nbytes = checked_nbytes(array.dtype, array.shape);
  if (!nbytes) return bad("shape is too large");
  const size_t payload = size - header_start - header_len;
  if (payload != *nbytes)
    return bad("expected " + std::to_string(*nbytes) + " data bytes for shape and dtype, found " +
               std::to_string(payload));
  const uint8_t* begin = bytes + header_start + header_len;
  array.data.assign(begin, begin + payload);
  return array;
}

Result<Array> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return invalid_argument("'" + path + "' is a directory");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    if (errno == ENOENT) return not_found("file '" + path + "' does not exist");
    return io_error("cannot open '" + path + "': " + std::strerror(errno));
  }
  std::streamoff size = file.tellg();
  if (size < 0) return io_error("cannot read '" + path + "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char*>(bytes.data()), size))
    return io_error("error reading '" + path + "'");
  return parse(bytes.data(), bytes.size(), path);
}

Result<std::vector<uint8_t>> serialize(DType dtype, const std::vector<int64_t>& shape, const void* data) {
  const char* descr = descr_of(dtype);
  if (!descr) return unsupported(std::string(".npy has no ") + dtype_name(dtype) + " dtype");
  auto nbytes = checked_nbytes(dtype, shape);
  if (!nbytes) return invalid_argument("invalid shape for .npy output");
  if (*nbytes > 0 && data == nullptr) return invalid_argument("null data pointer for .npy output");

  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // Laid out exactly as numpy's write_array does, so files are byte-identical
  // to numpy's: spare spaces to let the first dim grow in place, then space
  // padding and a newline so the data starts 64-byte aligned.
  constexpr size_t kGrowthDigits = 21, kAlign = 64;
  if (!shape.empty()) dict.append(kGrowthDigits - std::to_string(shape[0]).size(), ' ');
  size_t prefix = 10;
  uint8_t major = 1;
  if (dict.size() + 1 + kAlign > 65535) {
    prefix = 12;
    major = 2;
  }
  const size_t padding = kAlign - (prefix + dict.size() + 1) % kAlign;
  dict.append(padding, ' ');
  dict += '\n';
  const size_t header_len = dict.size();

  std::vector<uint8_t> out;
  out.reserve(prefix + header_len + *nbytes);
  out.insert(out.end(), kMagic, kMagic + kMagicLen);
  out.push_back(major);
  out.push_back(0);
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>(header_len >> (8 * i)));
  out.insert(out.end(), dict.begin(), dict.end());
  const auto* src = static_cast<const uint8_t*>(data);
  if (*nbytes) out.insert(out.end(), src, src + *nbytes);
  return out;
}

Status write_file(const std::string& path, DType dtype, const std::vector<int64_t>& shape, const void* data) {
  INGOT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize(dtype, shape, data));
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return io_error("cannot create a temporary file next to '" + path + "': " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return io_error("cannot write '" + path + "': " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; give the file the usual 0644 (reading the umask
  // means changing it, which races with other threads).
  ::fchmod(fd, 0644);
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot write '" + path + "': " + std::strerror(err));
  }
  return {};
}

}  // namespace ingot::npy
