// Errors as values for the storage layer. Expected failures (a corrupt file,
// a full disk, a directory held by another process) come back as an Error
// whose message says what happened and what to do; broken invariants inside
// the library are exceptions or aborts instead, because no caller can handle
// them.
#pragma once

#include <cassert>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace conclave::storage {

enum class ErrorCode {
  kIo,               // a read, write or sync failed (EIO and friends)
  kNoSpace,          // ENOSPC or EDQUOT
  kCorrupt,          // data on disk failed a check; recovery refuses
  kLocked,           // the data directory is held by another process
  kStopped,          // an earlier write or sync failed; the store accepts no more writes
  kInvalidArgument,  // the caller broke the contract (non-contiguous index, ...)
  kNotFound,
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kIo;
  std::string message;
};

// Holds either a T or an Error. [[nodiscard]] because an ignored storage
// error is how durability bugs are born.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &checked(); }
  T& operator*() { return checked(); }

 private:
  T& checked() {
    if (!ok()) throw std::logic_error("storage: value() of a failed Result: " + error().message);
    return std::get<0>(v_);
  }
  std::variant<T, Error> v_;
};

// Success or an Error, for operations with nothing to return.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  static Status success() { return Status(); }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }
  // The error's code, or nothing on success.
  std::optional<ErrorCode> code() const {
    return failed_ ? std::optional<ErrorCode>(error_.code) : std::nullopt;
  }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace conclave::storage
