// The crash test: a child process appends and syncs records from several
// threads and reports each acknowledged index through a pipe, while one
// thread now and then truncates the unsynced suffix (re-appending it with a
// new term, as a follower does) or compacts a prefix; the parent kills it
// with SIGKILL at a random moment, reopens the log, and checks that every
// acknowledged entry is present and intact and that nothing after it is
// garbage (every entry read back is exactly what some append wrote).
//
// Iterations: CONCLAVE_CRASH_ITERATIONS (default 25, about a second here);
// CONCLAVE_CRASH_SEED picks the run. For a long soak:
//   CONCLAVE_CRASH_ITERATIONS=2000 ctest --test-dir build -R storage_crash
// SIGKILL loses the process, not the page cache: this tests our ordering and
// recovery, while torn and lost pages of a power cut are the corruption
// test's job.
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "sidecar/storage/segmented_log.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// The content an append of (index, term) writes; the pad varies the sizes.
raft::Entry expected(std::uint64_t index, std::uint64_t term) { return testing::entry(index, term, index % 300); }

LogOptions crash_options() {
  LogOptions options;
  options.segment_bytes_max = 64 << 10;  // many rollovers, so kills land in them too
  return options;
}

[[noreturn]] void child(const std::string& dir, std::uint64_t iteration, int ack_fd, std::uint64_t seed) {
  auto log = SegmentedLog::open(posix_filesystem(), dir, crash_options());
  if (!log) {
    std::fprintf(stderr, "child: %s\n", log.error().message.c_str());
    ::_exit(2);
  }
  std::mutex order;
  std::uint64_t term = iteration * 1000;  // bumped by each truncation
  // Counts truncations. An entry is reported only if no truncation ran
  // between its append and its report: a truncation that waited for a
  // running sync may remove entries that sync made durable (legal in Raft,
  // where durable is not committed), and their appenders must not claim them.
  std::uint64_t generation = 0;
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t) {
    appenders.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(t));
      for (std::uint64_t round = 1;; ++round) {
        Index last;
        std::uint64_t my_generation = 0;
        {
          std::lock_guard lock(order);
          // Only what no sync covered may go: everything acknowledged was
          // covered by a sync before it was reported.
          Index durable = (*log)->durable_index();
          if (t == 0 && round % 16 == 0 && (*log)->last_index() > durable) {
            std::uint64_t span = (*log)->last_index().value() - durable.value();
            if (!(*log)->truncate_suffix(Index(durable.value() + 1 + rng() % span)).ok()) ::_exit(7);
            ++term;
            ++generation;
          }
          if (t == 0 && round % 64 == 0 && durable.value() > 500) {
            if (!(*log)->compact_prefix(Index(durable.value() - 500)).ok()) ::_exit(8);
          }
          std::uint64_t next = (*log)->last_index().value() + 1;
          std::vector<raft::Entry> batch;
          for (std::uint64_t i = 0, n = 1 + rng() % 8; i < n; ++i) batch.push_back(expected(next + i, term));
          auto appended = (*log)->append(batch);
          if (!appended) ::_exit(3);
          last = *appended;
          my_generation = generation;
        }
        Status synced = (*log)->sync(last);
        // A truncation by another thread may have removed `last` meanwhile.
        if (synced.code() == ErrorCode::kInvalidArgument) continue;
        if (!synced.ok()) ::_exit(4);
        std::lock_guard lock(order);
        if (generation != my_generation) continue;
        std::uint64_t v = last.value();
        if (::write(ack_fd, &v, sizeof v) != sizeof v) ::_exit(5);
      }
    });
  }
  for (auto& a : appenders) a.join();
  ::_exit(6);
}

TEST(CrashTest, EveryAcknowledgedEntrySurvivesSigkill) {
  spdlog::set_level(spdlog::level::warn);
  std::uint64_t iterations = env_or("CONCLAVE_CRASH_ITERATIONS", 25);
  std::uint64_t seed = env_or("CONCLAVE_CRASH_SEED", 1);
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  std::string log_dir = dir / "log";
  std::uint64_t acknowledged_ever = 0;
  for (std::uint64_t iteration = 1; iteration <= iterations; ++iteration) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " iteration " + std::to_string(iteration));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      child(log_dir, iteration, fds[1], seed * 1000 + iteration);
    }
    ::close(fds[1]);
    // When the kill lands is what varies; nothing is asserted about time.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited by itself with " << WEXITSTATUS(status);
    std::uint64_t acknowledged = 0;
    std::uint64_t v = 0;
    while (::read(fds[0], &v, sizeof v) == sizeof v) acknowledged = std::max(acknowledged, v);
    ::close(fds[0]);
    acknowledged_ever = std::max(acknowledged_ever, acknowledged);

    auto log = SegmentedLog::open(posix_filesystem(), log_dir, crash_options());
    ASSERT_TRUE(log.ok()) << log.error().message;
    ASSERT_GE((*log)->last_index().value(), acknowledged_ever);
    if ((*log)->last_index() < (*log)->first_index()) continue;
    auto all = (*log)->read((*log)->first_index(), (*log)->last_index());
    ASSERT_TRUE(all.ok()) << all.error().message;
    for (const raft::Entry& e : *all) {
      ASSERT_EQ(e, expected(e.index.value(), e.term.value())) << "entry " << e.index;
      ASSERT_LT(e.term.value(), (iteration + 1) * 1000);
    }
  }
  std::printf("crash test: %llu kills, %llu entries acknowledged\n",
              static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(acknowledged_ever));
  EXPECT_GT(acknowledged_ever, 0u) << "no child ever acknowledged an entry: the test tested nothing";
}

}  // namespace
}  // namespace conclave::storage
