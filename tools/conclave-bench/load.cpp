// Load: the clients, their in-flight proposals, and the latency samples.
#include "load.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "conclave/client.h"

namespace conclave::bench {

namespace {

using Clock = std::chrono::steady_clock;

// How long proposals still in flight at the end of the window may take.
constexpr auto kDrainTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

// The state machine of a benchmark client: nothing but a count, so that
// what is measured is the SDK and the sidecar, not the application.
class CountingHandler : public Handler {
 public:
  void bootstrap() override { entries.store(0, std::memory_order_relaxed); }
  void join(Index, SnapshotReader& snapshot) override { (void)snapshot.read_all(); }
  void entry(Index, Term, std::string_view) override { entries.fetch_add(1, std::memory_order_relaxed); }
  void snapshot(Index, SnapshotWriter& out) override { out.write("bench"); }
  std::atomic<std::uint64_t> entries{0};
};

}  // namespace

struct Load::Proposer {
  CountingHandler handler;
  std::unique_ptr<Client> client;
  std::atomic<int> inflight{0};
  std::atomic<std::uint64_t> failed{0};
  // Written by completions on the client's I/O thread, read after the drain.
  std::mutex mu;
  std::vector<double> latency_us;
  std::uint64_t committed = 0;
  std::string first_error;
  std::string last_connection_error;
};

Load::Load(LoadOptions options) : options_(std::move(options)), payload_(options_.entry_bytes, 'e') {
  for (int i = 0; i < options_.clients; ++i) {
    auto p = std::make_unique<Proposer>();
    ClientOptions co;
    co.socket_path = options_.sockets[static_cast<std::size_t>(i) % options_.sockets.size()];
    co.name = "bench" + std::to_string(i);
    Proposer* raw = p.get();
    co.on_error = [raw](const Error& e) {
      std::lock_guard lock(raw->mu);
      raw->last_connection_error = e.what();
    };
    p->client = std::make_unique<Client>(p->handler, std::move(co));
    proposers_.push_back(std::move(p));
  }
}

Load::~Load() {
  for (auto& p : proposers_) p->client->stop();
}

std::string Load::wait_ready(const std::function<std::string()>& gone) {
  const auto deadline = Clock::now() + options_.ready_timeout;
  for (std::size_t i = 0; i < proposers_.size(); ++i) {
    Proposer& p = *proposers_[i];
    std::string last;
    for (;;) {
      if (std::string dead = gone(); !dead.empty()) return dead;
      if (Clock::now() >= deadline) {
        std::lock_guard lock(p.mu);
        return "client " + std::to_string(i) + " saw no leader within " +
               std::to_string(options_.ready_timeout.count()) + " ms; last: " +
               (last.empty() ? p.last_connection_error : last);
      }
      auto f = p.client->status();
      if (f.wait_for(std::chrono::seconds(1)) == std::future_status::ready) {
        try {
          Status s = f.get();
          if (s.leader != 0) break;
          last = "node " + std::to_string(s.node_id) + " is " + s.role + " with no leader";
        } catch (const Error& e) {
          last = e.what();
        }
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  return {};
}

std::uint64_t Load::leader() {
  auto f = proposers_.front()->client->status();
  if (f.wait_for(options_.ready_timeout) != std::future_status::ready) return 0;
  try {
    return f.get().leader;
  } catch (const Error&) {
    return 0;
  }
}

void Load::propose_next(Proposer& p) {
  p.inflight.fetch_add(1, std::memory_order_relaxed);
  const auto issued = Clock::now();
  p.client->propose(payload_, [this, &p, issued](const Index* index, const Error* error) {
    const auto done = Clock::now();
    {
      std::lock_guard lock(p.mu);
      if (index != nullptr && done >= window_start_ && done < window_end_) {
        ++p.committed;
        p.latency_us.push_back(std::chrono::duration<double, std::micro>(done - issued).count());
      }
      if (error != nullptr && p.first_error.empty()) p.first_error = error->what();
    }
    if (error != nullptr) p.failed.fetch_add(1, std::memory_order_relaxed);
    // Keep K in flight until the window closes; stop after an error
    // (stopped, or a deadline: retrying would only hide it).
    if (error == nullptr && done < window_end_) propose_next(p);
    p.inflight.fetch_sub(1, std::memory_order_release);
  });
}

LoadResult Load::run(const std::function<void()>& at_window_edge) {
  window_start_ = Clock::now() + options_.warmup;
  window_end_ = window_start_ + options_.measure;
  for (auto& p : proposers_) {
    for (int k = 0; k < options_.inflight; ++k) propose_next(*p);
  }
  std::this_thread::sleep_until(window_start_);
  if (at_window_edge) at_window_edge();
  std::this_thread::sleep_until(window_end_);
  if (at_window_edge) at_window_edge();
  const auto drain_deadline = Clock::now() + kDrainTimeout;
  for (auto& p : proposers_) {
    while (p->inflight.load(std::memory_order_acquire) > 0 && Clock::now() < drain_deadline) {
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  LoadResult r;
  r.measured_s = std::chrono::duration<double>(options_.measure).count();
  for (auto& p : proposers_) {
    std::lock_guard lock(p->mu);
    r.committed += p->committed;
    r.failed += p->failed.load();
    if (r.first_error.empty()) r.first_error = p->first_error;
    r.latency_us.insert(r.latency_us.end(), p->latency_us.begin(), p->latency_us.end());
    r.entries_streamed += p->handler.entries.load();
  }
  std::sort(r.latency_us.begin(), r.latency_us.end());
  return r;
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace conclave::bench
