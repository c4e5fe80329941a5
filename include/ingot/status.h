// Status and Result: how every fallible call in ingot reports failure.
// No exception crosses the public API; a Status carries a code that separates
// bad input (the user's problem) from broken invariants (ingot's bug).
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace ingot {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from the user: file, shape, dtype, option
  kUnsupported,       // valid input that ingot cannot handle (yet)
  kNotFound,          // a named thing (input, file, entry) does not exist
  kCorrupt,           // bytes that fail validation (engine, archive)
  kIoError,           // the operating system refused a read or write
  kDeviceError,       // CUDA / cuBLAS / cuDNN reported an error
  kInternal,          // a broken invariant: a bug in ingot
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>"
  std::string to_string() const;
  // Prefix context ("while reading weights: ...") without losing the code.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status device_error(std::string m) { return {StatusCode::kDeviceError, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from an ok Status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ingot

#define INGOT_CONCAT_INNER(a, b) a##b
#define INGOT_CONCAT(a, b) INGOT_CONCAT_INNER(a, b)

// Return early from a Status-returning function.
#define INGOT_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::ingot::Status _ingot_st = (expr);             \
    if (!_ingot_st.ok()) return _ingot_st;          \
  } while (0)

// `INGOT_ASSIGN_OR_RETURN(auto x, make_x());`
#define INGOT_ASSIGN_OR_RETURN(decl, expr) \
  INGOT_ASSIGN_OR_RETURN_IMPL(INGOT_CONCAT(_ingot_res_, __LINE__), decl, expr)
#define INGOT_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  decl = std::move(tmp).value()
