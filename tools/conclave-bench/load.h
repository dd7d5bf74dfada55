// The load: C SDK clients, attached to the given app sockets round-robin,
// each keeping up to K proposals of S bytes in flight (the completion form
// of propose: the next proposal is made from the completion of the last,
// on the client's I/O thread, so no thread of ours sits between them).
// Every client is also a replica and is streamed every committed entry; its
// handler only counts them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace conclave::bench {

struct LoadOptions {
  std::vector<std::string> sockets;
  int clients = 4;
  int inflight = 64;
  std::size_t entry_bytes = 256;
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds measure{5000};
  // How long to wait for the cluster to answer status with a leader.
  std::chrono::milliseconds ready_timeout{20000};
};

struct LoadResult {
  std::uint64_t committed = 0;  // completions inside the measured window
  std::uint64_t failed = 0;     // proposals that ended with an error, any time
  std::string first_error;
  double measured_s = 0;
  std::vector<double> latency_us;  // sorted; one per committed proposal in the window
  std::uint64_t entries_streamed = 0;  // handler entry() calls, summed over clients
};

class Load {
 public:
  explicit Load(LoadOptions options);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  // Waits until every client's sidecar reports a leader; polls `gone` (a
  // description of a dead cluster, or empty) meanwhile. Returns an empty
  // string when ready, otherwise what went wrong.
  std::string wait_ready(const std::function<std::string()>& gone);
  // The leader's node id as the first client's sidecar reports it (0 if
  // unknown); call after wait_ready.
  std::uint64_t leader();
  // Runs warm-up then the measured window, then drains; calls
  // at_window_edge (if given) as the window opens and as it closes.
  LoadResult run(const std::function<void()>& at_window_edge = {});

 private:
  struct Proposer;
  void propose_next(Proposer& p);
  LoadOptions options_;
  std::string payload_;
  // The measured window, fixed before the first proposal so completions
  // can classify themselves without synchronizing.
  std::chrono::steady_clock::time_point window_start_;
  std::chrono::steady_clock::time_point window_end_;
  std::vector<std::unique_ptr<Proposer>> proposers_;
};

// The q-quantile (0..1) of sorted samples; 0 when there are none.
double quantile(const std::vector<double>& sorted, double q);

}  // namespace conclave::bench
