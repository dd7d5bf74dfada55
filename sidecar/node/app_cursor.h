// One attached application's place in the stream (node_apps.cpp): where
// the next message comes from, what the session filter says as of there,
// and whether a join is being streamed. The log on disk is the only source,
// so an application that falls behind costs a file read, not memory.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "ipc/app_service.h"
#include "sidecar/node/session_filter.h"
#include "sidecar/node/snapshot_data.h"
#include "sidecar/raft/types.h"

namespace conclave::node {

struct AppCursor {
  std::shared_ptr<ipc::AppStream> stream;
  std::string name;
  // The next log position to consider.
  raft::Index next{1};
  // Positions through here the application has applied already (it attached
  // with that index): they only feed the filter.
  raft::Index silent_through;
  // The highest index the application was told about (a message at it, a
  // join, its own applied index at attach, or `passed`).
  raft::Index reported;
  // Decisions on retried duplicates, as of next - 1.
  SessionFilter filter;
  // The commit index when it attached: acclimated once the stream reaches it.
  raft::Index acclimate_at;
  bool acclimated = false;
  // What the application acknowledged with `applied`.
  raft::Index applied;
  // A join being streamed, and how far.
  std::unique_ptr<SnapshotDataReader> join;
  std::uint64_t join_offset = 0;
};

// A snapshot the node asked an application for, being written to the store.
struct AppSnapshotInProgress {
  const ipc::AppStream* from = nullptr;
  raft::SnapshotMeta meta;
  std::optional<storage::SnapshotWriter> writer;
  std::uint64_t bytes = 0;
  // Abandoned if not complete by this tick.
  std::uint64_t deadline_tick = 0;
};

}  // namespace conclave::node
