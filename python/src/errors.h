// How C++ Status values become Python exceptions: a failed Status is thrown as
// StatusError inside the bindings, and a translator turns it into the matching
// class of ingot.errors (IngotError and its subclasses), keeping the C++ message.
#pragma once
#include <exception>
#include <string>

#include <pybind11/pybind11.h>

#include "ingot/status.h"

namespace ingot::python {

class StatusError : public std::exception {
 public:
  explicit StatusError(Status status) : status_(std::move(status)), text_(status_.to_string()) {}
  const Status& status() const { return status_; }
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  Status status_;
  std::string text_;
};

// Throws StatusError when the status failed.
inline void throw_if_error(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T value_or_throw(Result<T>&& result) {
  if (!result.ok()) throw StatusError(result.status());
  return std::move(result).value();
}

// A short identifier of a code ("invalid_argument"), the key ingot.errors maps to a class.
const char* status_code_key(StatusCode code);

void register_error_translator(pybind11::module_& m);

}  // namespace ingot::python
