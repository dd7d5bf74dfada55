// The callback thread; see dispatcher.h.
#include "dispatcher.h"

namespace conclave::detail {

namespace {

// The applied index is reported to the I/O side (which coalesces notices in
// time) at least this often during a long replay; besides,
// one goes whenever the buffer runs empty (the handler caught up).
constexpr std::size_t kEventsPerNotice = 1024;

std::size_t cost_of(const StreamEvent& e) { return e.data.size() + e.address.size() + sizeof(StreamEvent); }

}  // namespace

// Reads a join's chunks straight from the buffer, on the callback thread.
class JoinReader final : public SnapshotReader {
 public:
  JoinReader(Dispatcher& d, std::uint64_t generation, std::uint64_t bytes)
      : d_(d), generation_(generation), bytes_(bytes) {}

  std::uint64_t size() const override { return bytes_; }

  std::optional<std::string> next() override {
    if (done_) return std::nullopt;
    auto item = d_.pop();
    if (!item) {
      stopped_ = true;
      throw Error(ErrorCode::stopped, "the client stopped during a join");
    }
    if (item->end || item->generation != generation_) {
      interrupted_ = true;
      done_ = true;
      throw Error(ErrorCode::disconnected, "the connection to the sidecar was lost during a join; it starts again");
    }
    if (item->event.kind != StreamEvent::Kind::join_chunk) {
      broken_ = true;
      done_ = true;
      throw Error(ErrorCode::malformed, "the sidecar sent another message before the join's last chunk");
    }
    if (item->event.bytes != received_) {
      broken_ = true;
      done_ = true;
      throw Error(ErrorCode::malformed, "join chunk at offset " + std::to_string(item->event.bytes) +
                                            ", expected " + std::to_string(received_));
    }
    received_ += item->event.data.size();
    done_ = item->event.done;
    return std::move(item->event.data);
  }

  // After the handler returned: consume chunks it did not read.
  void skip_rest() {
    while (!done_) next();
  }

  bool interrupted() const { return interrupted_; }
  bool stopped() const { return stopped_; }
  bool broken() const { return broken_; }
  std::uint64_t generation() const { return generation_; }

 private:
  Dispatcher& d_;
  std::uint64_t generation_;
  std::uint64_t bytes_;
  std::uint64_t received_ = 0;
  bool done_ = false;
  bool interrupted_ = false;
  bool stopped_ = false;
  bool broken_ = false;
};

// Cuts what the handler writes into chunks sent as they fill.
class ChunkWriter final : public SnapshotWriter {
 public:
  ChunkWriter(DispatchSink& sink, std::uint64_t generation, Index index, std::size_t chunk_bytes)
      : sink_(sink), generation_(generation), index_(index), chunk_bytes_(chunk_bytes) {}

  void write(std::string_view bytes) override {
    while (!bytes.empty()) {
      std::size_t n = std::min(bytes.size(), chunk_bytes_ - pending_.size());
      pending_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (pending_.size() == chunk_bytes_) {
        sink_.send_snapshot_chunk(generation_, index_, std::move(pending_), false);
        pending_.clear();
      }
    }
  }

  void finish() { sink_.send_snapshot_chunk(generation_, index_, std::move(pending_), true); }
  // Ends the chunks with the reason instead: the sidecar drops what came.
  void fail(std::string why) { sink_.send_snapshot_chunk(generation_, index_, {}, true, std::move(why)); }

 private:
  DispatchSink& sink_;
  std::uint64_t generation_;
  Index index_;
  std::size_t chunk_bytes_;
  std::string pending_;
};

Dispatcher::Dispatcher(Handler& handler, DispatchSink& sink, Index applied, std::size_t chunk_bytes,
                       std::size_t buffer_bytes_max)
    : handler_(handler),
      sink_(sink),
      chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)),
      buffer_bytes_max_(buffer_bytes_max),
      applied_(applied),
      notified_(applied) {}

Dispatcher::~Dispatcher() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::start() { thread_ = std::thread([this] { run(); }); }

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  applied_cv_.notify_all();
}

bool Dispatcher::push(std::uint64_t generation, std::vector<StreamEvent>& events) {
  if (events.empty()) return true;
  bool wake;
  bool reading;
  {
    std::lock_guard lock(mutex_);
    for (auto& event : events) {
      buffered_bytes_ += cost_of(event);
      queue_.push_back(Item{generation, false, std::move(event)});
    }
    if (buffered_bytes_ > buffer_bytes_max_) reading_paused_ = true;
    reading = !reading_paused_;
    wake = consumer_waiting_;
  }
  events.clear();
  if (wake) queue_cv_.notify_one();
  return reading;
}

void Dispatcher::push_end(std::uint64_t generation) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Item{generation, true, {}});
  }
  queue_cv_.notify_one();
}

std::optional<Dispatcher::Item> Dispatcher::pop() {
  if (taken_.empty()) {
    // The last batch is applied: only now does it leave the buffer's
    // count, so the bound holds for the events taken and not yet applied.
    bool resume = false;
    {
      std::lock_guard lock(mutex_);
      buffered_bytes_ -= taken_bytes_;
      taken_bytes_ = 0;
      if (reading_paused_ && buffered_bytes_ <= buffer_bytes_max_ / 2) {
        reading_paused_ = false;
        resume = true;
      }
    }
    if (resume) sink_.resume_reading();
    std::unique_lock lock(mutex_);
    consumer_waiting_ = true;
    queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    consumer_waiting_ = false;
    if (stopping_) return std::nullopt;
    taken_.swap(queue_);
    for (const Item& item : taken_) {
      if (!item.end) taken_bytes_ += cost_of(item.event);
    }
  } else if (stopping_) {
    return std::nullopt;
  }
  std::optional<Item> item(std::move(taken_.front()));
  taken_.pop_front();
  return item;
}

Index Dispatcher::applied() const { return applied_.load(); }

bool Dispatcher::wait_applied(Index index, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ++applied_waiters_;
  bool reached = applied_cv_.wait_for(lock, timeout, [&] { return stopping_ || applied_.load() >= index; });
  --applied_waiters_;
  return reached && applied_.load() >= index;
}

void Dispatcher::set_applied(Index index) {
  applied_.store(index);
  // Both sides are sequentially consistent: either a waiter counted itself
  // before this store (and is woken here, the lock ordering the wake after
  // its check), or its check sees the new index.
  if (applied_waiters_.load() == 0) return;
  { std::lock_guard lock(mutex_); }
  applied_cv_.notify_all();
}

void Dispatcher::notify_applied(bool force) {
  Index now = applied();
  if (now == notified_) return;
  bool idle = taken_.empty();
  if (idle) {
    std::lock_guard lock(mutex_);
    idle = queue_.empty();
  }
  if (!force && !idle && ++since_notice_ < kEventsPerNotice) return;
  since_notice_ = 0;
  notified_ = now;
  sink_.applied(now);
}

void Dispatcher::run() {
  while (auto item = pop()) {
    if (!apply(std::move(*item))) return;
    notify_applied(false);
  }
}

bool Dispatcher::apply(Item item) {
  using K = StreamEvent::Kind;
  if (item.end) {
    notify_applied(true);
    sink_.drained(item.generation, applied());
    return true;
  }
  StreamEvent& e = item.event;
  try {
    switch (e.kind) {
      case K::bootstrap:
        handler_.bootstrap();
        set_applied(0);
        break;
      case K::join: return join(item);
      case K::join_chunk:
        sink_.failed(Error(ErrorCode::malformed, "the sidecar sent a join chunk outside a join"));
        return false;
      case K::entry:
        handler_.entry(e.index, e.term, e.data);
        set_applied(e.index);
        break;
      case K::arrive:
        handler_.arrive(e.index, e.node, e.address);
        set_applied(e.index);
        break;
      case K::depart:
        handler_.depart(e.index, e.node, e.address);
        set_applied(e.index);
        break;
      case K::acclimated: handler_.acclimated(e.index); break;
      // Positions that held nothing for the application count as applied,
      // so a barrier's read index pointing at one is reached.
      case K::passed:
        if (e.index > applied()) set_applied(e.index);
        break;
      case K::snapshot: {
        ChunkWriter out(sink_, item.generation, e.index, chunk_bytes_);
        // A handler that cannot write its state (a full disk for a temp
        // file, say) has not lost it: the sidecar is told and asks again
        // later, and applying goes on.
        std::string failed;
        try {
          handler_.snapshot(e.index, out);
        } catch (const std::exception& ex) {
          failed = ex.what();
        } catch (...) {
          failed = "a non-exception was thrown";
        }
        if (failed.empty()) {
          out.finish();
        } else {
          failed = "the handler's snapshot at index " + std::to_string(e.index) + " threw: " + failed;
          out.fail(failed);
          sink_.report(Error(ErrorCode::snapshot_failed, failed + "; the sidecar will ask again later"));
        }
        if (e.index > applied()) set_applied(e.index);
        break;
      }
      case K::closing: break;  // the I/O thread handles it
    }
  } catch (const std::exception& ex) {
    sink_.failed(Error(ErrorCode::handler_failed, std::string("the handler threw: ") + ex.what()));
    return false;
  } catch (...) {
    sink_.failed(Error(ErrorCode::handler_failed, "the handler threw a non-exception"));
    return false;
  }
  return true;
}

bool Dispatcher::join(const Item& item) {
  JoinReader reader(*this, item.generation, item.event.bytes);
  std::optional<Error> thrown;
  try {
    handler_.join(item.event.index, reader);
    reader.skip_rest();
  } catch (const std::exception& ex) {
    thrown = Error(ErrorCode::handler_failed, std::string("the handler threw during join: ") + ex.what());
  } catch (...) {
    thrown = Error(ErrorCode::handler_failed, "the handler threw a non-exception during join");
  }
  // The reader's own findings come first: whatever the handler did with
  // the exception it got, the join did not complete.
  if (reader.stopped()) return false;
  if (reader.interrupted()) {
    // Half a snapshot is no state at all: attach again from nothing.
    set_applied(0);
    notify_applied(true);
    sink_.drained(reader.generation(), 0);
    return true;
  }
  if (reader.broken()) {
    sink_.failed(Error(ErrorCode::malformed, "the sidecar broke the join's chunk sequence"));
    return false;
  }
  if (thrown) {
    sink_.failed(*thrown);
    return false;
  }
  set_applied(item.event.index);
  return true;
}

}  // namespace conclave::detail
