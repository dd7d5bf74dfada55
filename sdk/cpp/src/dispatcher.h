// The callback thread: the ordered stream, buffered between the I/O thread
// that reads it and the handler that consumes it, and the handler calls
// themselves — one at a time, in stream order, on this thread only. It
// tracks the applied index (after entry/arrive/depart return: theirs; after
// join: the join's) and streams snapshot requests' answers back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "conclave/handler.h"
#include "wire.h"

namespace conclave::detail {

// What the callback thread needs from the I/O side. Implementations hand
// the work to the I/O thread and return at once.
class DispatchSink {
 public:
  // `failed` (with done): the handler could not produce the state; why.
  virtual void send_snapshot_chunk(std::uint64_t generation, Index index, std::string data, bool done,
                                   std::string failed = {}) = 0;
  // Something the application should hear of that stops nothing.
  virtual void report(Error error) = 0;
  virtual void applied(Index index) = 0;
  // Every event of connection `generation` has been consumed; `applied` is
  // what to attach with next.
  virtual void drained(std::uint64_t generation, Index applied) = 0;
  virtual void resume_reading() = 0;
  // The handler threw, or the stream broke the protocol: stop for good.
  virtual void failed(Error error) = 0;

 protected:
  ~DispatchSink() = default;
};

class Dispatcher {
 public:
  Dispatcher(Handler& handler, DispatchSink& sink, Index applied, std::size_t chunk_bytes,
             std::size_t buffer_bytes_max);
  ~Dispatcher();

  void start();
  // I/O thread: the events of one read, in order, handed over under one
  // lock with at most one wake-up (per event, the handoff cost more than
  // decoding). Empties `events`. False once the buffer is over its bound:
  // stop reading until the sink's resume_reading().
  bool push(std::uint64_t generation, std::vector<StreamEvent>& events);
  // I/O thread: connection `generation` is gone; drained() when reached.
  void push_end(std::uint64_t generation);
  // Asks the thread to end once the running callback returns (any thread);
  // the destructor waits for it (not from a callback).
  void stop();

  Index applied() const;
  bool wait_applied(Index index, std::chrono::milliseconds timeout);

 private:
  friend class JoinReader;
  struct Item {
    std::uint64_t generation = 0;
    bool end = false;  // the connection ended here
    StreamEvent event;
  };
  // Blocks; nothing once stopped. Takes everything queued at once, so the
  // lock is taken once per batch, not per event.
  std::optional<Item> pop();
  void run();
  // False when the thread must stop.
  bool apply(Item item);
  bool join(const Item& item);
  void set_applied(Index index);
  void notify_applied(bool force);

  Handler& handler_;
  DispatchSink& sink_;
  const std::size_t chunk_bytes_;
  const std::size_t buffer_bytes_max_;

  mutable std::mutex mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable applied_cv_;
  std::deque<Item> queue_;
  std::size_t buffered_bytes_ = 0;
  bool reading_paused_ = false;
  bool consumer_waiting_ = false;
  std::atomic<bool> stopping_{false};  // read without the lock between events
  // Written by the callback thread after every event; read by waiters. The
  // lock is taken only when someone waits (applied_waiters_).
  std::atomic<Index> applied_;
  std::atomic<int> applied_waiters_{0};

  // Callback thread only: the batch being applied, and its bytes (still
  // counted in buffered_bytes_ until the whole batch is applied).
  std::deque<Item> taken_;
  std::size_t taken_bytes_ = 0;

  Index notified_ = 0;  // callback thread only: last applied sent to the sidecar
  std::size_t since_notice_ = 0;
  std::thread thread_;
};

}  // namespace conclave::detail
