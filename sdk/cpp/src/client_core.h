// The I/O side of a Client: one thread running an Asio io_context that
// connects, attaches, reads the stream into the Dispatcher, sends requests
// and retries them, and reconnects after the sidecar goes away.
//
// A connection's life: connect -> attach (with the handler's applied index)
// -> attached (requests flow) -> lost -> draining (the callback thread
// finishes what that connection delivered, which fixes the applied index)
// -> waiting (backoff) -> connect again. Draining first is what makes the
// re-attach index exact.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "conclave/client.h"
#include "dispatcher.h"
#include "frame_stream.h"
#include "request_table.h"

namespace conclave::detail {

class ClientCore final : public DispatchSink {
 public:
  ClientCore(Handler& handler, ClientOptions options);
  ~ClientCore();

  // Any thread: queue a request (fails at once if the client has stopped).
  void submit(Request request);
  void stop();
  Dispatcher& dispatcher() { return dispatcher_; }
  const ClientOptions& options() const { return options_; }

  // DispatchSink (the callback thread).
  void send_snapshot_chunk(std::uint64_t generation, Index index, std::string data, bool done,
                           std::string failed) override;
  void report(Error error) override;
  void applied(Index index) override;
  void drained(std::uint64_t generation, Index applied) override;
  void resume_reading() override;
  void failed(Error error) override;

 private:
  enum class State { connecting, attaching, attached, draining, waiting, stopped };

  void connect();
  void schedule_reconnect();
  void on_frame(std::uint64_t generation, kj::ArrayPtr<const capnp::word> frame);
  // The end of one read's frames: their events go to the dispatcher
  // together, and the answers' follow-up sends go out once.
  void on_batch_end(std::uint64_t generation);
  void flush_events(std::uint64_t generation);
  void on_answer(const Answer& answer);
  void on_attached(const Answer& answer);
  void on_closing(const StreamEvent& closing);
  void lose_connection(std::uint64_t generation, std::string why);
  void pump();
  void send_applied();
  void stop_for_good(Error error);  // I/O thread

  ClientOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  RequestTable table_;
  Dispatcher dispatcher_;

  // I/O thread only.
  State state_ = State::connecting;
  std::uint64_t generation_ = 0;
  std::optional<FrameStream::Socket> connecting_;
  std::shared_ptr<FrameStream> stream_;
  std::uint64_t attach_id_ = 0;
  std::set<std::uint64_t> snapshot_ids_;  // last chunks awaiting the sidecar's answer
  std::vector<StreamEvent> batch_;        // decoded events not yet handed to the dispatcher
  std::vector<Answer> answers_;           // the answers of the frame being handled
  bool in_batch_ = false;                 // delivering one read's frames
  bool pump_after_batch_ = false;
  std::optional<Error> closing_;          // what the sidecar said before closing
  boost::asio::steady_timer request_timer_;
  std::optional<Clock::time_point> request_timer_at_;  // what request_timer_ waits for
  boost::asio::steady_timer reconnect_timer_;
  // Applied notices are coalesced: at most one per kAppliedNoticeDelay.
  boost::asio::steady_timer applied_timer_;
  bool applied_timer_armed_ = false;
  Index applied_latest_ = 0;  // the latest the callback thread reported
  Index applied_sent_ = 0;    // the latest this connection was told
  std::chrono::milliseconds reconnect_delay_;

  // Guards the decision to stop against submit() from other threads.
  std::mutex stop_mutex_;
  std::optional<Error> stopped_;  // why the client stopped, once it has
  std::thread io_thread_;
};

}  // namespace conclave::detail
