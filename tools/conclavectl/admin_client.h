// The admin client: connects to a sidecar's admin UNIX socket, sends one
// Request (schema/admin.capnp) and waits, within a deadline, for the Response
// with the same id. Shared by conclavectl and the cluster tests (library
// conclave_admin_client), so both speak the protocol the same way.
//
// Answers come back as the protocol's plain C++ values (schema/admin_types.h,
// shared with the server) rather than capnp readers: a reader dies with its
// message buffer, and callers (printing, polling for a leader) want to keep
// what they got. One request at a time per connection; the
// socket is blocking, with poll() bounding every wait so that a hung sidecar
// costs at most the timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "schema/admin_types.h"

namespace conclave::admin {

// Either a value or a message that says what went wrong and what to do.
template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  static Outcome failure(std::string message) { return Outcome(Failure{std::move(message)}); }
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_).message; }

 private:
  struct Failure {
    std::string message;
  };
  explicit Outcome(Failure f) : v_(std::move(f)) {}
  std::variant<T, Failure> v_;
};

// One Response. `error` other than kNone means the sidecar refused; `reason`
// then says why, and a leader hint may say where to go instead.
struct Response {
  ErrorCode error = ErrorCode::kNone;
  std::string reason;
  std::uint64_t leader_hint = 0;
  std::string leader_address;
  std::variant<std::monostate, Status, Committed> body;

  bool ok() const { return error == ErrorCode::kNone; }
  // "notLeader: <reason> (leader is 2 at 127.0.0.1:7002)".
  std::string describe_error() const;
};

// What to ask. Mirrors the Request union.
struct StatusRequest {};
struct ProposeRequest {
  std::string data;
};
struct AddLearnerRequest {
  std::uint64_t node_id = 0;
  std::string address;
};
struct PromoteRequest {
  std::uint64_t node_id = 0;
};
struct RemoveRequest {
  std::uint64_t node_id = 0;
};
struct TransferLeaderRequest {
  std::uint64_t node_id = 0;
};
struct SnapshotRequest {};
struct ClusterStatusRequest {};
using Request = std::variant<StatusRequest, ProposeRequest, AddLearnerRequest, PromoteRequest, RemoveRequest,
                             TransferLeaderRequest, SnapshotRequest, ClusterStatusRequest>;

class AdminClient {
 public:
  // Connects to the sidecar's admin socket at `socket_path`.
  static Outcome<AdminClient> connect(const std::string& socket_path);
  ~AdminClient();
  AdminClient(AdminClient&& other) noexcept;
  AdminClient& operator=(AdminClient&& other) noexcept;
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Sends `request` and waits at most `timeout` for its answer. A failure
  // here is the transport's (no answer, connection closed, garbage); a
  // refusal by the sidecar is a Response with an error.
  Outcome<Response> call(const Request& request, std::chrono::milliseconds timeout);

 private:
  AdminClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void close();
  int fd_ = -1;
  std::string path_;
  std::uint64_t next_id_ = 1;
};

// Connect, call once, close: what a CLI command or a polling test wants.
Outcome<Response> call_once(const std::string& socket_path, const Request& request,
                            std::chrono::milliseconds timeout);

}  // namespace conclave::admin
