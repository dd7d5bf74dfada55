// The connection of an application to its own node's sidecar.
//
// THREADING. A Client runs two threads of its own:
//  - the callback thread calls every Handler method, one at a time, in the
//    stream's order. It is the only thread that touches the handler, so the
//    handler needs no locking against the SDK (only against the
//    application's own threads that read its state).
//  - the I/O thread talks to the socket, retries requests, reconnects. The
//    completion functions of propose/barrier/status (the callback forms) run
//    on it: keep them short and never block in them.
// Every public method may be called from any thread, including from inside
// a handler callback or a completion function: propose(), barrier() and
// status() never block, they queue the request and return. What must not
// happen inside a callback is *waiting* for the answer (future::get): the
// answer may be behind stream messages that only that same callback thread
// can consume. Wait from another thread, or use the completion form.
// wait_applied() must not be called from a callback either (it would wait
// for itself). Destroy or stop() the Client from outside its callbacks.
//
// FAILURES. Requests are retried across lost leaders (noLeader, unknown) and
// lost connections until their deadline, proposals with the same session and
// sequence number so that at most one copy is applied. After a sidecar
// restart the client reconnects and re-attaches with the index the handler
// has applied, and the stream resumes (or starts again with a join).
// forbidden, version and malformed stop the client for good: retrying
// cannot fix them. A handler callback that throws stops it too (applying
// past a failed entry would let this replica diverge).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "conclave/error.h"
#include "conclave/handler.h"

namespace conclave {

struct ClientOptions {
  // The sidecar's application socket (conclaved --app-socket).
  std::string socket_path;
  // How the sidecar's logs name this application.
  std::string name = "app";
  // The index through which the application's own (durable) state has
  // applied when the client starts; 0 for an application without state.
  Index applied_index = 0;
  // How long propose/barrier/status keep retrying before failing with timeout.
  std::chrono::milliseconds request_timeout{30000};
  // Backoff between retries and reconnects: doubles from min up to max.
  std::chrono::milliseconds retry_delay_min{10};
  std::chrono::milliseconds retry_delay_max{1000};
  // Snapshot chunk size when answering a snapshot request.
  std::size_t snapshot_chunk_bytes = 1 << 20;
  // Stream messages buffered ahead of the handler before the client stops
  // reading the socket (the sidecar then holds the rest back).
  std::size_t stream_buffer_bytes_max = 64 << 20;
  // Told of every connection problem (cannot connect, closed by the
  // sidecar with its reason, lost) and of what stopped the client. Runs on
  // the I/O thread. Optional.
  std::function<void(const Error&)> on_error;
};

struct Member {
  Index index = 0;  // where the membership change that added it committed
  NodeId node = 0;
  std::string address;
};

// The sidecar's view, from status().
struct Status {
  NodeId node_id = 0;
  std::string cluster_id;
  std::string role;
  Term term = 0;
  NodeId leader = 0;
  Index commit_index = 0;
  Index streamed_index = 0;  // what this session has been sent
  Index applied_index = 0;   // what this session acknowledged
  Index last_index = 0;
  Index snapshot_index = 0;
  std::vector<Member> members;
};

// An answer or the Error that ended a request; for the completion forms.
template <typename T>
using Completion = std::function<void(const T* value, const Error* error)>;

class Client {
 public:
  // Starts connecting at once; the handler's callbacks begin after attach.
  // The handler must outlive the Client.
  Client(Handler& handler, ClientOptions options);
  ~Client();  // stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Replicates `data`; the future holds the index at which it committed
  // (the entry itself reaches the handler through the stream, on every
  // node). Throws Error through the future when it cannot be committed.
  std::future<Index> propose(std::string data);
  void propose(std::string data, Completion<Index> done);

  // A read index: once applied through it (wait_applied), a read of the
  // local state is linearizable.
  std::future<Index> barrier();
  void barrier(Completion<Index> done);

  std::future<Status> status();
  void status(Completion<Status> done);

  // Through which index the handler has applied (after each entry, arrive,
  // depart returns; after join, its index).
  Index applied_index() const;
  // Waits until applied_index() >= index; false on timeout or stop.
  bool wait_applied(Index index, std::chrono::milliseconds timeout);

  // Fails pending requests with Error(stopped), ends the threads once the
  // running callback returns. Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conclave
