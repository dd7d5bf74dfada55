// What an application implements: the replicated state machine's callbacks,
// in log order. See conclave.h for which thread calls them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace conclave {

using Index = std::uint64_t;   // a log position; 0 means "nothing"
using Term = std::uint64_t;    // a Raft term
using NodeId = std::uint64_t;  // a sidecar's node id

// The snapshot a join starts from, streamed in chunks as they arrive.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  // The snapshot's total size in bytes, as announced before the chunks.
  virtual std::uint64_t size() const = 0;
  // The next chunk, or nothing once the last has been read. Blocks until
  // the chunk has arrived. Throws Error(disconnected) if the connection is
  // lost mid-snapshot: let it propagate; the SDK re-attaches and the stream
  // starts again with bootstrap or join.
  virtual std::optional<std::string> next() = 0;
  // All remaining chunks, concatenated.
  std::string read_all();
};

// Where the application writes its state for a snapshot request. The SDK
// cuts what is written into chunks and sends them as they fill; the last
// chunk goes when snapshot() returns.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  virtual void write(std::string_view bytes) = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;

  // The cluster's state is empty: reset to nothing. Also sent again after a
  // join was interrupted, so it must discard any state the application has.
  virtual void bootstrap() = 0;

  // Replace all state with the snapshot as of `index` (read it to the end).
  // Afterwards the application has applied exactly through `index`.
  virtual void join(Index index, SnapshotReader& snapshot) = 0;

  // A committed entry, exactly once, in index order (indices have gaps).
  virtual void entry(Index index, Term term, std::string_view data) = 0;

  // A node joined / left the cluster's membership, in order with the
  // entries. A new cluster's founders all arrive at index 1.
  virtual void arrive(Index /*index*/, NodeId /*node*/, std::string_view /*address*/) {}
  virtual void depart(Index /*index*/, NodeId /*node*/, std::string_view /*address*/) {}

  // The stream has reached the commit index that stood at attach time:
  // the application's state is as recent as its sidecar knows.
  virtual void acclimated(Index /*index*/) {}

  // Write the state as of exactly `index`: every callback up to `index`
  // has returned and none after it has run, so the current state is it.
  // If it throws, the SDK tells the sidecar the snapshot failed (the
  // sidecar asks again later), reports ErrorCode::snapshot_failed through
  // on_error, and goes on applying: unlike the other callbacks, a failed
  // snapshot leaves the state intact.
  virtual void snapshot(Index index, SnapshotWriter& out) = 0;
};

}  // namespace conclave
