#pragma once
// Result<T>: a value or an Error, the way errors cross module boundaries, so that a caller sees
// in the signature that a call can fail and has to look at the outcome.
//
// An Error carries a code that decides what happens next (retry, re-login, exit code) and a
// message written for a person, saying what went wrong and, where it can, what to do.
// This header stays C++17-clean: the websocketpp wrapper (built as C++17) includes it.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace bim {

enum class ErrorCode {
  kInvalidArgument,  // bad input from the user or a caller
  kNotFound,
  kUnauthenticated,  // no credentials, or the platform rejected them
  kPermissionDenied,
  kUnavailable,  // could not reach the other side; retrying may help
  kRateLimited,  // 429, with or without Retry-After (a 503 is kUnavailable)
  kProtocol,     // the other side answered something outside the contract
  kRejected,     // the other side understood and refused (4xx other than the above)
  kConflict,
  kIo,        // local disk or filesystem
  kInternal,  // a broken invariant of ours
  kCancelled,
  kTimeout,
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

// E is the error type: Error everywhere but where a layer classifies failures its own way
// (ctl/operations.h).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  E error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace bim
