// What the application socket asks of the node, in plain C++ types: the
// server (app_server.h) decodes schema/app.capnp into these calls and encodes
// what the node sends back, so the node never touches Cap'n Proto and the
// server never touches the Raft core. schema/app.capnp documents the
// protocol itself.
//
// Every call is made on the node's io_context thread. Each request is
// answered exactly once through its AppReplyFn, possibly much later; a reply
// after the session closed does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace conclave::ipc {

// Mirrors schema/app.capnp's ErrorCode.
enum class AppError : std::uint8_t {
  kNone = 0,
  kNoLeader,
  kUnknown,
  kRejected,
  kTimeout,
  kMalformed,
  kShuttingDown,
  kInternal,
  kForbidden,
  kVersion,
};

struct AppMember {
  std::uint64_t index = 0;
  std::uint64_t node = 0;
  std::string address;
};

struct AppStatus {
  std::uint64_t node_id = 0;
  std::string cluster_id;
  std::string role;
  std::uint64_t term = 0;
  std::uint64_t leader = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t streamed_index = 0;
  std::uint64_t applied_index = 0;
  std::uint64_t last_index = 0;
  std::uint64_t snapshot_index = 0;
  std::vector<AppMember> members;
};

struct AppAttached {
  std::uint64_t node_id = 0;
  std::string cluster_id;
  std::uint64_t leader = 0;
  std::uint64_t commit_index = 0;
};

struct AppCommitted {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
};

struct AppAnswer {
  AppError error = AppError::kNone;
  std::string reason;
  std::variant<std::monostate, AppAttached, AppCommitted, std::uint64_t /*read index*/, AppStatus> result;

  static AppAnswer failure(AppError code, std::string why) {
    AppAnswer a;
    a.error = code;
    a.reason = std::move(why);
    return a;
  }
};
using AppReplyFn = std::function<void(AppAnswer)>;

// The stream, one message each.
namespace event {
struct Bootstrap {};
struct Join {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint64_t bytes = 0;
};
struct JoinChunk {
  std::uint64_t offset = 0;
  std::string data;
  bool done = false;
};
struct Arrive {
  AppMember member;
};
struct Depart {
  AppMember member;
};
struct Acclimated {
  std::uint64_t index = 0;
};
struct SnapshotRequest {
  std::uint64_t index = 0;
};
struct Passed {
  std::uint64_t index = 0;
};
}  // namespace event
// Entries go by AppStream::send_entries.
using AppEvent = std::variant<event::Bootstrap, event::Join, event::JoinChunk, event::Arrive, event::Depart,
                              event::Acclimated, event::SnapshotRequest, event::Passed>;

// A committed entry on its way to an application, viewing the node's copy
// of its data: send_entries encodes it before returning, so nothing is
// copied on the way.
struct EntryView {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::string_view data;
  std::uint64_t session = 0;
  std::uint64_t seq = 0;
};

// The node's handle on one attached application's connection.
class AppStream {
 public:
  virtual ~AppStream() = default;
  // Queues one message of the stream other than an entry.
  virtual void send(const AppEvent& event) = 0;
  // Queues consecutive entries of the stream: one `entries` frame to an
  // application that reads them, else one `entry` frame each.
  virtual void send_entries(std::span<const EntryView> entries) = 0;
  // Bytes queued for the application and not yet written: the node stops
  // feeding a stream above its high-water mark and resumes on app_writable.
  virtual std::size_t queued_bytes() const = 0;
  // Sends `closing` with the reason, then closes.
  virtual void close(AppError code, const std::string& reason) = 0;
  virtual bool closed() const = 0;
  // For logs: "application 'kv' (session 4)".
  virtual const std::string& label() const = 0;
};

struct AttachRequest {
  std::string name;
  std::uint64_t applied_index = 0;
};

struct ProposeRequest {
  std::uint64_t session = 0;
  std::uint64_t seq = 0;
  std::uint64_t floor = 0;
  std::string data;
};

class AppService {
 public:
  virtual ~AppService() = default;
  // The stream starts once the reply was sent (the node sends the attach
  // answer's events after calling reply).
  virtual void app_attach(const std::shared_ptr<AppStream>& stream, AttachRequest request, AppReplyFn reply) = 0;
  virtual void app_propose(const std::shared_ptr<AppStream>& stream, ProposeRequest request, AppReplyFn reply) = 0;
  virtual void app_barrier(const std::shared_ptr<AppStream>& stream, AppReplyFn reply) = 0;
  virtual void app_status(const std::shared_ptr<AppStream>& stream, AppReplyFn reply) = 0;
  virtual void app_applied(const std::shared_ptr<AppStream>& stream, std::uint64_t index) = 0;
  // One chunk of the state asked for by a snapshot request; `reply` is set
  // on the last chunk only (done).
  virtual void app_snapshot_chunk(const std::shared_ptr<AppStream>& stream, std::uint64_t index, std::string data,
                                  bool done, std::optional<AppReplyFn> reply) = 0;
  // The application could not produce the snapshot of `index` (the last
  // chunk had `failed`).
  virtual void app_snapshot_failed(const std::shared_ptr<AppStream>& stream, std::uint64_t index, std::string reason,
                                   AppReplyFn reply) = 0;
  // The stream's queue fell below its low-water mark.
  virtual void app_writable(const std::shared_ptr<AppStream>& stream) = 0;
  // The connection is gone (after attach only).
  virtual void app_detached(const std::shared_ptr<AppStream>& stream) = 0;
};

}  // namespace conclave::ipc
