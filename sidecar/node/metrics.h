// What conclaved exposes on /metrics (metrics_server.h), and the small
// registry that renders it in the Prometheus text format 0.0.4.
//
// Why our own: Debian 12 packages no C++ Prometheus client (no
// prometheus-cpp), and the figures are few and all read on the node's one
// thread, so a client library's locking and its own HTTP server would buy
// nothing. A registry here is rebuilt at every scrape: Node::collect()
// (metrics_collect.cpp) reads the node's state and the counters it keeps
// where it already logs, and the registry turns them into text.
//
// Metrics (every index is a Raft log index; "this node" is the scraped one):
//   conclave_term                          gauge    current term
//   conclave_role{role}                    gauge    1 for this node's role (follower, precandidate,
//                                                   candidate, leader), 0 for the others
//   conclave_leader_id                     gauge    the leader this node knows, 0 for none
//   conclave_commit_index                  gauge
//   conclave_applied_index                 gauge
//   conclave_last_index                    gauge    last entry in the log
//   conclave_snapshot_index                gauge    newest snapshot
//   conclave_leader_changes_total          counter  times a new leader became known
//   conclave_proposals_committed_total     counter  proposals this node gave the core that committed
//   conclave_proposals_failed_total        counter  ... that were refused, lost or timed out
//   conclave_fsync_duration_seconds        histogram  persisting a Ready that owed an fsync
//   conclave_peer_replication_lag_entries{peer}  gauge  leader only: last index - the peer's match
//   conclave_peer_last_heard_seconds{peer} gauge    since the last Raft message from the peer
//   conclave_peer_sent_bytes_total{peer}   counter  bytes written to the peer's connection
//   conclave_peer_received_bytes_total{peer}  counter  bytes read from the peer
//   conclave_peer_connected{peer}          gauge    1 while our connection to the peer is up
//   conclave_snapshots_taken_total         counter  snapshots the applications gave this node
//   conclave_snapshots_taken_bytes_total   counter  their size
//   conclave_snapshots_installed_total     counter  snapshots received from the leader and stored
//   conclave_snapshots_installed_bytes_total  counter  their size
//   conclave_applications                  gauge    attached applications
//   conclave_applications_detached_lagging_total  counter  detached for lagging past
//                                                   application_lag_max behind a snapshot
//   conclave_application_lag_entries{application}  gauge  applied index - what the application
//                                                   acknowledged (the largest for one name)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace conclave::node {

// Label name and value, in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Observations counted into fixed buckets; `bounds` are the buckets' upper
// bounds, strictly increasing (+Inf is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket, not cumulative; one more than bounds() (the +Inf bucket).
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// One scrape's samples, grouped by metric in the order first added.
class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric; samples added under its name join it. A metric may
  // be declared with no samples (e.g. per-peer lag on a follower).
  void declare(const std::string& name, const std::string& help, Type type);
  void counter(const std::string& name, const std::string& help, double value, Labels labels = {});
  void gauge(const std::string& name, const std::string& help, double value, Labels labels = {});
  void histogram(const std::string& name, const std::string& help, const Histogram& h, Labels labels = {});

  // The text exposition format 0.0.4: HELP and TYPE, then the samples.
  std::string render() const;

 private:
  struct Sample {
    std::string suffix;  // "_bucket", "_sum", "_count" or empty
    Labels labels;
    double value = 0;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type = Type::kGauge;
    std::vector<Sample> samples;
  };
  Family& family(const std::string& name, const std::string& help, Type type);

  std::vector<Family> families_;
};

// Upper bounds for disk latencies in seconds: 100 µs to 5 s in 1-2-5 steps
// (a healthy SSD fsyncs in well under a millisecond; a sick disk takes seconds).
std::vector<double> latency_buckets_seconds();

// A sample value as Prometheus reads it: integers without a decimal point,
// others in the shortest form that reads back exactly; +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace conclave::node
