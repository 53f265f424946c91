// Result<T>: a value or an Error, the return type of every library function that can fail.
// Library code never prints and never exits (STYLE.md section 3); main.cpp turns an Error
// into one line of the form "op `path`: reason".
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace minify {

struct Error {
  int err = 0;           // errno value, 0 when the failure is not a system error
  std::string op;        // what was being done: "open", "read ELF header", ...
  std::string path;      // the file it was done to, may be empty
  std::string context;   // extra detail (a libelf message, a byte offset, ...)

  // "op `path`: reason", the one-line form the CLI prints.
  std::string message() const {
    std::string m = op;
    if (!path.empty()) m += " `" + path + "`";
    std::string reason = context;
    if (err != 0) reason = reason.empty() ? std::strerror(err) : reason + ": " + std::strerror(err);
    if (!reason.empty()) m += ": " + reason;
    return m;
  }
};

inline Error sys_error(std::string op, std::string path, int err = errno) {
  return Error{err, std::move(op), std::move(path), {}};
}

inline Error bad_input(std::string op, std::string path, std::string context) {
  return Error{0, std::move(op), std::move(path), std::move(context)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Requires: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Requires: !ok().
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For functions that return nothing on success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace minify
