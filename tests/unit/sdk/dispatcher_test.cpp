// The SDK's callback thread and its buffer bound: the I/O thread stops
// reading once the events not yet applied pass stream_buffer_bytes_max,
// counting a batch the callback thread took until its last event is
// applied, and resumes once the handler has caught up to half of it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dispatcher.h"

namespace conclave::detail {
namespace {

// An entry handler that holds the callback thread in its first entry until
// released.
class HeldHandler final : public Handler {
 public:
  void bootstrap() override {}
  void join(Index, SnapshotReader&) override {}
  void entry(Index, Term, std::string_view) override {
    std::unique_lock lock(mutex_);
    holding_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  void snapshot(Index, SnapshotWriter&) override {}

  void wait_until_holding() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return holding_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool holding_ = false;
  bool released_ = false;
};

class CountingSink final : public DispatchSink {
 public:
  void send_snapshot_chunk(std::uint64_t, Index, std::string, bool, std::string) override {}
  void report(Error) override {}
  void applied(Index) override {}
  void drained(std::uint64_t, Index) override {}
  void resume_reading() override { ++resumed; }
  void failed(Error) override {}
  std::atomic<int> resumed{0};
};

StreamEvent entry(Index index) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::entry;
  e.index = index;
  e.term = 1;
  e.data = std::string(100, 'x');
  return e;
}

bool push_one(Dispatcher& d, Index index) {
  std::vector<StreamEvent> batch{entry(index)};
  return d.push(1, batch);
}

TEST(Dispatcher, ABatchBeingAppliedCountsAgainstTheBoundUntilApplied) {
  const std::size_t cost = entry(1).data.size() + sizeof(StreamEvent);  // what the dispatcher counts per entry
  HeldHandler handler;
  CountingSink sink;
  Dispatcher d(handler, sink, 0, 1024, 10 * cost);
  d.start();

  ASSERT_TRUE(push_one(d, 1));
  handler.wait_until_holding();  // entry 1 taken, not applied
  for (Index i = 2; i <= 10; ++i) EXPECT_TRUE(push_one(d, i)) << "entry " << i;
  EXPECT_FALSE(push_one(d, 11)) << "eleven entries not applied, and reading was not paused";

  handler.release();
  ASSERT_TRUE(d.wait_applied(11, std::chrono::seconds(10)));
  for (int i = 0; i < 1000 && sink.resumed.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(sink.resumed.load(), 1) << "reading resumes once the handler caught up";
  d.stop();
}

}  // namespace
}  // namespace conclave::detail
