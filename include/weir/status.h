// weir/status.h — Status and Result<T>: expected failures as values.
//
// A Status is either OK or carries a code, a message that names the failing
// input (file:line, field path, topic/partition/offset), and, when the failure
// came from librdkafka, the librdkafka error name (e.g. "_MSG_TIMED_OUT") so
// that operators can grep librdkafka's documentation for it.
//
// Status and Result are plain values: copyable, movable, safe to pass between
// threads. They never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace weir {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad input from a user: config, CLI argument, payload
  kNotFound,         // a topic, group, file or key that does not exist
  kAlreadyExists,
  kRefused,  // a change weir will not make (fewer partitions, ...)
  kKafka,    // an error reported by librdkafka or the broker
  kTimeout,
  kUnavailable,  // the cluster or a dependency cannot be reached
  kIo,           // a local file or socket failed
  kCorruption,   // stored or received bytes fail a check
  kUnsupported,  // the cluster or build lacks a feature
  kCancelled,
  kInternal,  // a bug in weir
};

// Returns a stable upper-case name for |code|, e.g. "INVALID_ARGUMENT".
std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string kafka_error = {})
      : code_(code), message_(std::move(message)), kafka_error_(std::move(kafka_error)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status Refused(std::string msg) { return {StatusCode::kRefused, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Io(std::string msg) { return {StatusCode::kIo, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // librdkafka's error name (rd_kafka_err2name), empty when not from Kafka.
  const std::string& kafka_error() const { return kafka_error_; }

  // "CODE: message" or "CODE (KAFKA_NAME): message"; "OK" when ok().
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string kafka_error_;
};

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) {
      v_ = Status::Internal("Result constructed from an OK status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The status; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // Precondition: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weir

#define WEIR_CONCAT_INNER_(a, b) a##b
#define WEIR_CONCAT_(a, b) WEIR_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if |expr| is not OK.
#define WEIR_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::weir::Status weir_status_ = (expr);        \
    if (!weir_status_.ok()) return weir_status_; \
  } while (0)

// Declares |lhs| from a Result-returning |expr|, or returns its status.
#define WEIR_ASSIGN_OR_RETURN(lhs, expr) \
  WEIR_ASSIGN_OR_RETURN_IMPL_(WEIR_CONCAT_(weir_result_, __LINE__), lhs, expr)
#define WEIR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
