// A test double for applications: an in-memory sidecar of a one-node
// cluster that drives Handlers exactly as the real stream would — bootstrap
// (or a join from its latest snapshot), the log in order with the founding
// `arrive` at index 1, `acclimated`, snapshot requests on demand — with no
// sockets and no threads: every callback runs on the calling thread before
// the call returns. Unit-test a handler with it; no cluster needed.
//
//   conclave::testing::LocalSidecar sidecar;
//   MyHandler a;
//   sidecar.attach(a);                       // bootstrap, arrive(1), acclimated
//   sidecar.propose("set x 1");              // a.entry(2, 1, "set x 1")
//   sidecar.snapshot(a);                     // a.snapshot(2, writer); log compacted
//   MyHandler b;
//   sidecar.attach(b);                       // b.join(2, reader), acclimated
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "conclave/handler.h"

namespace conclave::testing {

class LocalSidecar {
 public:
  struct Options {
    NodeId node = 1;
    std::string address = "127.0.0.1:7000";
    Term term = 1;
    // Joins are streamed in chunks of this size, to exercise readers.
    std::size_t join_chunk_bytes = 7;
  };

  LocalSidecar();
  explicit LocalSidecar(Options options);

  // Attaches `handler`, which has applied through `applied` (0: no state):
  // resumes after `applied` if the log still holds the next index, else
  // joins from the latest snapshot (or bootstraps if the log was never
  // compacted and `applied` is 0); then replays and sends acclimated.
  // Returns the index it acclimated at. The handler must stay alive until
  // detach() or the sidecar's end.
  Index attach(Handler& handler, Index applied = 0);
  void detach(Handler& handler);

  // Commits an entry and delivers it to every attached handler. Returns its
  // index.
  Index propose(std::string_view data);
  // Commits a membership change and delivers arrive / depart.
  Index add_member(NodeId node, std::string address);
  Index remove_member(NodeId node);

  // Asks `handler` (attached, so applied through the commit index) for its
  // state, keeps it as the latest snapshot and, if `compact`, drops the
  // log through it so that later attaches must join. Returns its index.
  Index snapshot(Handler& handler, bool compact = true);

  Index commit_index() const { return commit_index_; }
  // The barrier of a one-node cluster: its commit index.
  Index barrier() const { return commit_index_; }
  Index snapshot_index() const { return snapshot_index_; }
  const std::string& snapshot_bytes() const { return snapshot_; }

 private:
  struct Record {
    enum class Kind { entry, arrive, depart };
    Kind kind;
    Index index;
    std::string data;  // entry: its data; arrive/depart: the address
    NodeId node = 0;
  };
  void deliver(Handler& handler, const Record& record);
  void join(Handler& handler);
  Index append(Record record);

  Options options_;
  std::vector<Record> log_;  // the records after snapshot_index_
  Index commit_index_ = 0;
  Index snapshot_index_ = 0;
  std::string snapshot_;
  std::vector<Handler*> attached_;
  std::map<NodeId, std::string> members_;  // node -> address
};

}  // namespace conclave::testing
