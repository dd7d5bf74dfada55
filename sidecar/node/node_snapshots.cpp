// Snapshots between peers: streaming one to a follower the core says is
// behind the log, and receiving one from the leader in chunks. Taking a
// snapshot is the application's part (node_apps.cpp).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sidecar/node/node.h"

namespace conclave::node {

using raft::Index;
using raft::NodeId;

namespace {

constexpr std::size_t kChunkBytes = 1u << 20;

}  // namespace

void Node::send_snapshot(raft::Message message) {
  const NodeId to = message.to;
  if (!message.snapshot) {
    spdlog::error("snapshot: the core asked to send a snapshot to node {} without saying which; not sent", to.value());
    return;
  }
  std::optional<storage::SnapshotInfo> found;
  for (const auto& info : data_dir_.snapshots().list()) {
    if (info.meta.index == message.snapshot->index && info.meta.term == message.snapshot->term) found = info;
  }
  if (!found) {
    spdlog::warn("snapshot: snapshot {} (term {}) for node {} is no longer in the store; the core will retry with a "
                 "newer one",
                 message.snapshot->index.value(), message.snapshot->term.value(), to.value());
    return;
  }
  auto reader = data_dir_.snapshots().read(*found);
  if (!reader) {
    spdlog::error("snapshot: cannot read {} to send it to node {}: {}", found->path, to.value(),
                  reader.error().message);
    return;
  }
  auto shared = std::make_shared<storage::SnapshotReader>(std::move(reader).value());
  spdlog::info("snapshot: sending snapshot through index {} ({} bytes) to node {}", found->meta.index.value(),
               found->data_bytes, to.value());
  network_->send_snapshot(std::move(message), [shared, to]() -> std::optional<std::string> {
    auto chunk = shared->next(kChunkBytes);
    if (!chunk) {
      spdlog::error("snapshot: reading {} for node {} failed: {}; the stream is aborted", shared->info().path,
                    to.value(), chunk.error().message);
      return std::nullopt;
    }
    return std::move(chunk).value();
  });
}

void Node::discard_incoming() { incoming_.reset(); }

bool Node::on_snapshot_chunk(peer::SnapshotChunk chunk) {
  if (stopped_) return false;
  if (installing_) {
    // One is being made durable; refusing would close the link to the
    // leader (and stop its heartbeats). The core resends if it must.
    if (chunk.offset == 0) {
      spdlog::info("snapshot: ignoring snapshot {} from node {} while the previous one is being stored",
                   chunk.meta.index.value(), chunk.from.value());
    }
    return true;
  }
  if (chunk.offset == 0) {
    discard_incoming();
    auto writer = data_dir_.snapshots().begin(chunk.meta);
    if (!writer) {
      spdlog::error("snapshot: cannot store the snapshot from node {}: {}", chunk.from.value(),
                    writer.error().message);
      return false;
    }
    incoming_ = std::make_unique<IncomingSnapshot>(
        IncomingSnapshot{chunk.from, chunk.meta, 0, std::move(writer).value()});
    spdlog::info("snapshot: receiving snapshot through index {} (term {}) from node {}", chunk.meta.index.value(),
                 chunk.meta.term.value(), chunk.from.value());
  } else if (!incoming_ || incoming_->from != chunk.from || incoming_->meta.index != chunk.meta.index ||
             incoming_->meta.term != chunk.meta.term || incoming_->bytes != chunk.offset) {
    spdlog::warn("snapshot: chunk at offset {} from node {} does not continue the snapshot being received; dropping "
                 "the copy (the leader resends)",
                 chunk.offset, chunk.from.value());
    discard_incoming();
    return false;
  }
  if (!chunk.data.empty()) {
    if (storage::Status s = incoming_->writer->write(chunk.data); !s) {
      spdlog::error("snapshot: cannot store the snapshot from node {}: {}; dropping the copy", chunk.from.value(),
                    s.error().message);
      discard_incoming();
      return false;
    }
  }
  incoming_->bytes += chunk.data.size();
  if (!chunk.done) return true;

  if (!chunk.install || !chunk.install->snapshot || chunk.total_bytes != incoming_->bytes ||
      !(*chunk.install->snapshot == incoming_->meta)) {
    spdlog::warn("snapshot: the last chunk from node {} is inconsistent ({} bytes received, {} announced, or other "
                 "metadata than the first chunk's); dropping the copy",
                 chunk.from.value(), incoming_->bytes, chunk.total_bytes);
    discard_incoming();
    return false;
  }
  const raft::SnapshotMeta meta = incoming_->meta;
  if (meta.index <= raft_->commit_index()) {
    // Nothing to store: the core answers from what it has.
    discard_incoming();
    raft_->step(*chunk.install);
    poke();
    return true;
  }
  // Durable in the store before the core hears of it (raft.h), and sealed
  // off the loop: the fsync covers the whole state, and a loop stalled for
  // it would miss the leader's heartbeats.
  installing_ = true;
  storage::SnapshotWriter writer = std::move(*incoming_->writer);
  discard_incoming();
  seal_snapshot(std::move(writer), [this, meta, from = chunk.from, install = std::move(*chunk.install)](
                                       storage::Status s, std::uint64_t data_bytes) {
    installing_ = false;
    if (!s) {
      // The leader sends it again; nothing was acknowledged.
      spdlog::error("snapshot: cannot store the snapshot from node {}: {}", from.value(), s.error().message);
      return;
    }
    spdlog::info("snapshot: stored snapshot through index {} (term {}, {} bytes) from node {}", meta.index.value(),
                 meta.term.value(), data_bytes, from.value());
    ++counts_.snapshots_installed;
    counts_.snapshots_installed_bytes += data_bytes;
    raft_->step(install);
    poke();
  });
  return true;
}

void Node::seal_snapshot(storage::SnapshotWriter writer, std::function<void(storage::Status, std::uint64_t)> then) {
  auto shared = std::make_shared<storage::SnapshotWriter>(std::move(writer));
  auto data_bytes = std::make_shared<std::uint64_t>(0);
  snapshot_thread_->run(
      [shared, data_bytes]() -> storage::Status {
        auto info = shared->commit();
        if (!info) return info.error();
        *data_bytes = info->data_bytes;
        return {};
      },
      [this, alive = std::weak_ptr<int>(alive_), shared, data_bytes, then = std::move(then)](storage::Status s) {
        if (alive.expired() || stopped_) return;
        then(std::move(s), *data_bytes);
      });
}

void Node::on_raft_message(raft::Message m) {
  if (stopped_) return;
  last_heard_[m.from] = std::chrono::steady_clock::now();
  raft_->step(m);
  poke();
}

bool Node::accepts_peer(NodeId id) {
  if (stopped_) return false;
  const raft::Configuration& config = raft_->config();
  // A node waiting to join accepts whoever contacts it: the leader. A
  // member accepts members only, so a removed node is refused at the
  // handshake (with the reason in its log) instead of disturbing elections.
  if (config.voters.empty() && config.learners.empty()) return true;
  return config.contains(id);
}

}  // namespace conclave::node
