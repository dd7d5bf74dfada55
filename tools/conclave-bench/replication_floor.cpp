// measure_replication_floor: the hops and flushes of a commit among bare
// threads (replication_floor.h).
#include "replication_floor.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "probe_io.h"

namespace conclave::bench {

namespace {

using probe::Clock;
using probe::fail;

constexpr int kScratchBlocks = 1024;  // 4 MiB per node, rewritten from the start

// Room for at least one record, however large (--size goes up to the log's
// 64 MiB entries).
int scratch_blocks(std::size_t entry_bytes) {
  return std::max(kScratchBlocks, static_cast<int>((entry_bytes + 4095) / 4096));
}

// Closes on scope exit, so a thread that fails hangs up on its peers and
// they stop too.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// false when the peer has hung up.
bool recv_all(int fd, std::vector<char>& buf) {
  return ::recv(fd, buf.data(), buf.size(), MSG_WAITALL) == static_cast<ssize_t>(buf.size());
}

void send_all(int fd, const char* data, std::size_t size) {
  if (::send(fd, data, size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) fail("send");
}

// The record of round `i` at its place in the file, as the log appends.
void write_record(int file, const std::vector<char>& record, std::uint64_t i, bool fsync) {
  const auto blocks = static_cast<std::uint64_t>(scratch_blocks(record.size()));
  const std::uint64_t span = blocks * 4096 / record.size() * record.size();
  const auto offset = static_cast<off_t>(i * record.size() % span);
  if (::pwrite(file, record.data(), record.size(), offset) != static_cast<ssize_t>(record.size())) fail("pwrite");
  if (fsync && ::fdatasync(file) != 0) fail("fdatasync");
}

void follower(int listener, int file, std::size_t entry_bytes, bool fsync) {
  Fd leader(probe::accept_nodelay(listener));
  if (leader.fd < 0) fail("accept");
  std::vector<char> record(entry_bytes);
  for (std::uint64_t i = 0; recv_all(leader.fd, record); ++i) {
    write_record(file, record, i, fsync);
    // The leader waits for a majority only, and may be gone by the time the
    // slowest follower answers the last round: that ends the run, too.
    if (::send(leader.fd, "a", 1, MSG_NOSIGNAL) != 1) return;
  }
}

// Reads the followers' answers until `needed` of them have answered round
// `round` (answers to earlier rounds may still come in from the slower).
void await_answers(const std::vector<int>& followers, std::vector<std::uint64_t>& answered, std::uint64_t round,
                   std::size_t needed) {
  std::vector<pollfd> fds;
  for (int fd : followers) fds.push_back(pollfd{fd, POLLIN, 0});
  auto done = [&] {
    return static_cast<std::size_t>(std::count_if(answered.begin(), answered.end(),
                                                  [&](std::uint64_t a) { return a >= round; })) >= needed;
  };
  while (!done()) {
    if (::poll(fds.data(), fds.size(), -1) < 0) fail("poll");
    for (std::size_t f = 0; f < fds.size(); ++f) {
      if (fds[f].revents == 0) continue;
      char acks[64];
      const ssize_t n = ::recv(fds[f].fd, acks, sizeof(acks), MSG_DONTWAIT);
      if (n <= 0) throw std::runtime_error("a follower hung up");
      answered[f] += static_cast<std::uint64_t>(n);
    }
  }
}

void leader(int listener, int file, const std::vector<sockaddr_in>& follower_addrs, std::size_t entry_bytes,
            bool fsync) {
  // The proposer first: if anything below fails, the hang-up ends its wait.
  Fd proposer(probe::accept_nodelay(listener));
  if (proposer.fd < 0) fail("accept");
  std::vector<std::unique_ptr<Fd>> owned;
  std::vector<int> followers;
  for (const sockaddr_in& addr : follower_addrs) {
    owned.push_back(std::make_unique<Fd>(probe::connect_loopback(addr)));
    if (owned.back()->fd < 0) fail("connect to a follower");
    followers.push_back(owned.back()->fd);
  }
  std::vector<std::uint64_t> answered(followers.size(), 0);
  const std::size_t needed = (followers.size() + 1) / 2;  // with the leader, a majority
  std::vector<char> record(entry_bytes);
  for (std::uint64_t round = 1; recv_all(proposer.fd, record); ++round) {
    // To the followers first, as the daemon sends before its own write.
    for (int fd : followers) send_all(fd, record.data(), record.size());
    write_record(file, record, round - 1, fsync);
    await_answers(followers, answered, round, needed);
    send_all(proposer.fd, "c", 1);
  }
}

// Runs `body` on a thread, keeping what it throws for the caller.
std::thread run_keeping_error(std::exception_ptr& error, std::function<void()> body) {
  return std::thread([&error, body = std::move(body)] {
    try {
      body();
    } catch (...) {
      error = std::current_exception();
    }
  });
}

}  // namespace

ReplicationFloor measure_replication_floor(const std::string& dir, int nodes, int rounds, std::size_t entry_bytes,
                                           bool fsync) {
  if (nodes < 1 || rounds < 1 || entry_bytes < 1) throw std::invalid_argument("replication floor: nothing to measure");
  std::vector<std::unique_ptr<Fd>> files;
  for (int n = 0; n < nodes; ++n) {
    files.push_back(std::make_unique<Fd>(
        probe::zero_filled_scratch(dir, "conclave-bench-replica-" + std::to_string(n) + ".tmp",
                                    scratch_blocks(entry_bytes))));
  }
  std::vector<std::unique_ptr<Fd>> listeners;
  std::vector<sockaddr_in> addrs(static_cast<std::size_t>(nodes));
  for (int n = 0; n < nodes; ++n) listeners.push_back(std::make_unique<Fd>(probe::listen_loopback(addrs[n])));

  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(nodes));
  std::vector<std::thread> threads;
  for (int n = 1; n < nodes; ++n) {
    threads.push_back(run_keeping_error(errors[n], [&, n] { follower(listeners[n]->fd, files[n]->fd, entry_bytes, fsync); }));
  }
  const std::vector<sockaddr_in> follower_addrs(addrs.begin() + 1, addrs.end());
  threads.push_back(
      run_keeping_error(errors[0], [&] { leader(listeners[0]->fd, files[0]->fd, follower_addrs, entry_bytes, fsync); }));

  std::vector<double> samples;
  std::string proposer_error;
  {
    Fd to_leader(probe::connect_loopback(addrs[0]));
    std::vector<char> record(entry_bytes, 'r');
    std::vector<char> answer(1);
    for (int i = 0; to_leader.fd >= 0 && i < rounds; ++i) {
      const auto start = Clock::now();
      if (::send(to_leader.fd, record.data(), record.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(record.size()) ||
          !recv_all(to_leader.fd, answer)) {
        break;
      }
      samples.push_back(probe::us_since(start));
    }
    if (samples.size() != static_cast<std::size_t>(rounds)) proposer_error = "the leader hung up";
  }
  // The proposer's hang-up ends the leader's loop, whose hang-ups end the
  // followers'. A thread still waiting in accept (one failed early) is
  // woken by shutting its listener.
  for (auto& l : listeners) ::shutdown(l->fd, SHUT_RDWR);
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (!proposer_error.empty()) throw std::runtime_error("replication floor: " + proposer_error);
  return ReplicationFloor{nodes, rounds, fsync, probe::quantile_us(samples, 0.5), probe::quantile_us(samples, 0.99)};
}

}  // namespace conclave::bench
