// The node's side of the application socket (schema/app.capnp): attaching,
// feeding each application's stream from the log, proposals with client
// sessions, barriers, and snapshots produced by an application.
//
// Streams are fed from the log on disk, in batches, only while the
// application's connection has less than kHighWaterBytes queued: a slow
// application costs a re-read of the log, never unbounded memory, and never
// holds up Raft or the other applications.
//
// Snapshots come only from an application: the sidecar does not hold the
// state machine. Once snapshot_entries entries were applied since the last
// snapshot, the acclimated application furthest ahead is sent `snapshot(X)`
// at its current position X; the bytes it streams back are written after
// the sidecar's own part (the session filter as of X) into the snapshot
// store; once durable, the core is told and the log compacted behind it,
// but never past what an attached application still has to read, unless it
// is more than application_lag_max entries behind: that one is detached.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sidecar/node/app_entry.h"
#include "sidecar/node/node.h"

namespace conclave::node {

using ipc::AppAnswer;
using ipc::AppError;
using raft::Index;
using raft::NodeId;
using raft::Role;

namespace {

constexpr std::size_t kHighWaterBytes = 4u << 20;
constexpr std::size_t kBatchEntries = 512;
constexpr std::uint64_t kBatchBytes = 1u << 20;
constexpr std::size_t kJoinChunkBytes = 1u << 20;
constexpr std::size_t kReadsMax = 100000;

AppError to_app_error(ipc::AdminError e) {
  switch (e) {
    case ipc::AdminError::kNone: return AppError::kNone;
    case ipc::AdminError::kNotLeader:
    case ipc::AdminError::kNoLeader: return AppError::kNoLeader;
    // A rejected or timed-out proposal may have been appended somewhere
    // (lost to a leader change, or still in flight): its fate is unknown,
    // and a retry with the same session and seq is safe.
    case ipc::AdminError::kRejected:
    case ipc::AdminError::kTimeout: return AppError::kUnknown;
    case ipc::AdminError::kMalformed: return AppError::kMalformed;
    case ipc::AdminError::kInternal: return AppError::kInternal;
    case ipc::AdminError::kShuttingDown: return AppError::kShuttingDown;
  }
  return AppError::kInternal;
}

}  // namespace

void Node::app_attach(const std::shared_ptr<ipc::AppStream>& stream, ipc::AttachRequest request,
                      ipc::AppReplyFn reply) {
  if (stopped_) return reply(AppAnswer::failure(AppError::kShuttingDown, "the sidecar is stopping"));
  AppCursor cursor;
  cursor.stream = stream;
  cursor.name = request.name;
  cursor.acclimate_at = raft_->commit_index();
  const Index wanted(request.applied_index);
  cursor.applied = wanted;

  // Where the stream can start: from the log's beginning (bootstrap), from
  // the application's own applied index (resume), or from a snapshot (join).
  // Resuming needs the session filter as of the applied index: the newest
  // snapshot at or before it whose successor the log still holds, replayed
  // silently up to it (or the log's very beginning, with an empty filter).
  const Index first = data_dir_.log().first_index();
  std::optional<storage::SnapshotInfo> base;
  bool from_start = first == Index(1);
  if (wanted > Index(0)) {
    for (const auto& info : data_dir_.snapshots().list()) {
      if (info.meta.index <= wanted && Index(info.meta.index.value() + 1) >= first) base = info;
    }
  }
  ipc::AppAttached attached{config_.id, config_.cluster_id, raft_->leader().value(), cursor.acclimate_at.value()};
  AppAnswer answer;
  answer.result = attached;
  reply(std::move(answer));

  auto [it, inserted] = apps_.emplace(stream.get(), std::move(cursor));
  AppCursor& c = it->second;
  if (wanted == Index(0) && from_start) {
    stream->send(ipc::event::Bootstrap{});
    spdlog::info("{}: '{}' starts from an empty state (bootstrap)", stream->label(), c.name);
  } else if (wanted > Index(0) && (base || from_start)) {
    if (base) {
      auto reader = SnapshotDataReader::open(data_dir_.snapshots(), *base);
      if (!reader) {
        spdlog::error("{}: cannot read snapshot {} to resume '{}': {}", stream->label(), base->path, c.name,
                      reader.error().message);
        return stream->close(AppError::kInternal, "the sidecar cannot read its snapshot; see its log");
      }
      c.filter = reader->filter();
      c.next = Index(base->meta.index.value() + 1);
    }
    c.silent_through = wanted;
    c.reported = wanted;
    spdlog::info("{}: '{}' resumes after index {}", stream->label(), c.name, wanted.value());
  } else {
    start_join(c);
  }
  pump(c);
}

void Node::start_join(AppCursor& c) {
  auto latest = data_dir_.snapshots().latest();
  if (!latest) {
    spdlog::error("{}: '{}' needs a snapshot (the log no longer starts at index 1) and there is none", c.stream->label(),
                  c.name);
    return c.stream->close(AppError::kInternal,
                           "the sidecar has no snapshot to start this application from; see its log");
  }
  auto reader = SnapshotDataReader::open(data_dir_.snapshots(), *latest);
  if (!reader) {
    spdlog::error("{}: cannot read snapshot {}: {}", c.stream->label(), latest->path, reader.error().message);
    return c.stream->close(AppError::kInternal, "the sidecar cannot read its snapshot; see its log");
  }
  c.join = std::make_unique<SnapshotDataReader>(std::move(reader).value());
  c.join_offset = 0;
  c.filter = c.join->filter();
  c.next = Index(latest->meta.index.value() + 1);
  c.silent_through = latest->meta.index;
  c.reported = latest->meta.index;
  c.stream->send(ipc::event::Join{latest->meta.index.value(), latest->meta.term.value(), c.join->app_bytes()});
  spdlog::info("{}: '{}' joins from the snapshot through index {} ({} bytes of application state)",
               c.stream->label(), c.name, latest->meta.index.value(), c.join->app_bytes());
}

void Node::pump(AppCursor& c) {
  ipc::AppStream& stream = *c.stream;
  while (!stream.closed() && stream.queued_bytes() < kHighWaterBytes) {
    if (c.join) {
      auto chunk = c.join->next(kJoinChunkBytes);
      if (!chunk) {
        spdlog::error("{}: reading the snapshot for '{}' failed: {}", stream.label(), c.name, chunk.error().message);
        return stream.close(AppError::kInternal, "the sidecar failed reading its snapshot; see its log");
      }
      const bool done = c.join_offset + chunk->size() >= c.join->app_bytes();
      const std::uint64_t offset = c.join_offset;
      c.join_offset += chunk->size();
      stream.send(ipc::event::JoinChunk{offset, std::move(chunk).value(), done});
      if (done) c.join.reset();
      continue;
    }
    // The log lost what this cursor needs (a snapshot from the leader
    // replaced it): start over from that snapshot.
    if (c.next < data_dir_.log().first_index() && c.next <= applied_) {
      start_join(c);
      continue;
    }
    if (c.next > applied_) break;
    auto entries = data_dir_.log().read(c.next, std::min(applied_, Index(c.next.value() + kBatchEntries - 1)),
                                        kBatchBytes);
    if (!entries) {
      spdlog::error("{}: reading the log at index {} for '{}' failed: {}", stream.label(), c.next.value(), c.name,
                    entries.error().message);
      return stream.close(AppError::kInternal, "the sidecar failed reading its log; see its log");
    }
    // Entries go out as one message per run of entries (see deliver); the
    // views point into `entries`, so the batch goes before they do.
    std::vector<ipc::EntryView> batch;
    batch.reserve(entries->size());
    for (const raft::Entry& e : *entries) deliver(c, e, batch);
    stream.send_entries(batch);
  }
  const Index position(c.next.value() - 1);
  if (!c.join && !stream.closed() && position > c.reported) {
    c.reported = position;
    stream.send(ipc::event::Passed{position.value()});
  }
  if (!c.acclimated && !c.join && !stream.closed() && position >= c.acclimate_at) {
    c.acclimated = true;
    stream.send(ipc::event::Acclimated{c.acclimate_at.value()});
    spdlog::info("{}: '{}' is acclimated at index {}", stream.label(), c.name, c.acclimate_at.value());
  }
}

void Node::deliver(AppCursor& c, const raft::Entry& e, std::vector<ipc::EntryView>& batch) {
  c.next = Index(e.index.value() + 1);
  const bool silent = e.index <= c.silent_through;
  // Any other message goes after the entries before it.
  auto send = [&](const ipc::AppEvent& event) {
    c.stream->send_entries(batch);
    batch.clear();
    c.stream->send(event);
    c.reported = e.index;
  };
  switch (e.type) {
    case raft::EntryType::kNoop:
      return;
    case raft::EntryType::kConfig: {
      if (silent) return;
      auto change = raft::decode_config_change(e.data);
      if (!change) return;
      auto member = [&](NodeId id, std::string address) {
        return ipc::AppMember{e.index.value(), id.value(), std::move(address)};
      };
      switch (change->type) {
        case raft::ConfigChangeType::kBootstrap:
          for (NodeId id : change->founders.voters) {
            auto a = change->founders.addresses.find(id);
            send(ipc::event::Arrive{member(id, a == change->founders.addresses.end() ? "" : a->second)});
          }
          return;
        case raft::ConfigChangeType::kAddLearner:
          return send(ipc::event::Arrive{member(change->node, change->address)});
        case raft::ConfigChangeType::kRemove:
          return send(ipc::event::Depart{member(change->node, address_of(change->node))});
        case raft::ConfigChangeType::kPromote:
          return;
      }
      return;
    }
    case raft::EntryType::kNormal: {
      auto app = decode_app_entry(e.data);
      // An entry that is not an envelope came from before envelopes; it is
      // delivered whole, with no session.
      const std::uint64_t session = app ? app->session : 0;
      const std::uint64_t seq = app ? app->seq : 0;
      const bool fresh = c.filter.admit(e.index.value(), session, seq, app ? app->floor : 0);
      if (silent || !fresh) return;
      std::string_view data = app ? app->data : std::string_view(e.data);
      batch.push_back(ipc::EntryView{e.index.value(), e.term.value(), data, session, seq});
      c.reported = e.index;
      return;
    }
  }
}

void Node::pump_all() {
  for (auto& [key, cursor] : apps_) pump(cursor);
  maybe_request_snapshot();
}

void Node::app_writable(const std::shared_ptr<ipc::AppStream>& stream) {
  auto it = apps_.find(stream.get());
  if (it != apps_.end()) pump(it->second);
}

void Node::detach_lagging(ipc::AppStream& stream, Index position, Index snapshot) {
  const std::string why = "it has read through index " + std::to_string(position.value()) + ", more than " +
                          std::to_string(config_.application_lag_max) +
                          " entries (application_lag_max) behind the snapshot at index " +
                          std::to_string(snapshot.value()) +
                          ", and the log is compacted behind that snapshot; attach again to join from it";
  spdlog::warn("{}: detached: {}", stream.label(), why);
  ++counts_.applications_detached_lagging;
  stream.close(AppError::kRejected, why);
}

void Node::app_detached(const std::shared_ptr<ipc::AppStream>& stream) {
  auto it = apps_.find(stream.get());
  if (it == apps_.end()) return;
  spdlog::info("{}: '{}' detached at index {} (applied {})", stream->label(), it->second.name,
               it->second.next.value() - 1, it->second.applied.value());
  if (app_snapshot_ && app_snapshot_->from == stream.get()) abort_app_snapshot("its application detached");
  apps_.erase(it);
}

void Node::app_applied(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index) {
  auto it = apps_.find(stream.get());
  if (it != apps_.end() && Index(index) > it->second.applied) it->second.applied = Index(index);
}

void Node::app_propose(const std::shared_ptr<ipc::AppStream>&, ipc::ProposeRequest request, ipc::AppReplyFn reply) {
  propose_anywhere(encode_app_entry(request.session, request.seq, request.floor, request.data),
                   [reply = std::move(reply)](ipc::AdminReply r) {
                     if (r.error != ipc::AdminError::kNone) {
                       return reply(AppAnswer::failure(to_app_error(r.error), r.reason));
                     }
                     AppAnswer a;
                     a.result = ipc::AppCommitted{r.committed->index, r.committed->term};
                     reply(std::move(a));
                   });
}

void Node::app_barrier(const std::shared_ptr<ipc::AppStream>&, ipc::AppReplyFn reply) {
  if (stopped_ || shutting_down_) return reply(AppAnswer::failure(AppError::kShuttingDown, "the sidecar is stopping"));
  if (reads_.size() >= kReadsMax) {
    return reply(AppAnswer::failure(AppError::kRejected, "too many barriers are waiting; retry"));
  }
  const std::uint64_t context = next_read_context_++;
  raft::Status s = raft_->read_index(context);
  if (s != raft::Status::kOk) {
    return reply(AppAnswer::failure(s == raft::Status::kNotLeader ? AppError::kNoLeader : AppError::kRejected,
                                    "no barrier now (" + std::string(raft::to_string(s)) + "); retry shortly"));
  }
  reads_[context] = std::move(reply);
  poke();
}

void Node::answer_reads(const raft::Ready& ready) {
  for (const raft::ReadState& r : ready.reads) {
    auto it = reads_.find(r.context);
    if (it == reads_.end()) continue;
    auto reply = std::move(it->second);
    reads_.erase(it);
    AppAnswer a;
    a.result = r.index.value();
    reply(std::move(a));
  }
  for (std::uint64_t context : ready.failed_reads) {
    auto it = reads_.find(context);
    if (it == reads_.end()) continue;
    auto reply = std::move(it->second);
    reads_.erase(it);
    reply(AppAnswer::failure(AppError::kNoLeader, "leadership changed before the barrier was confirmed; retry"));
  }
}

void Node::app_status(const std::shared_ptr<ipc::AppStream>& stream, ipc::AppReplyFn reply) {
  raft::NodeStatus s = status();
  ipc::AppStatus out;
  fill_status(out, s);
  if (auto it = apps_.find(stream.get()); it != apps_.end()) {
    out.streamed_index = it->second.next.value() - 1;
    out.applied_index = it->second.applied.value();
  }
  for (NodeId id : s.config.voters) out.members.push_back(ipc::AppMember{0, id.value(), address_of(id)});
  for (NodeId id : s.config.learners) out.members.push_back(ipc::AppMember{0, id.value(), address_of(id)});
  AppAnswer a;
  a.result = std::move(out);
  reply(std::move(a));
}

void Node::admin_snapshot(ipc::Reply reply) {
  if (stopped_ || shutting_down_) return reply(ipc::AdminReply::failure(ipc::AdminError::kShuttingDown, "the node is stopping"));
  const bool any_app = std::any_of(apps_.begin(), apps_.end(), [](const auto& a) { return a.second.acclimated; });
  if (!any_app) {
    return reply(ipc::AdminReply::failure(
        ipc::AdminError::kRejected,
        "no acclimated application is attached to this node: the application holds the state, so start it first"));
  }
  snapshot_waiters_.push_back(std::move(reply));
  snapshot_now_ = true;
  snapshot_retry_tick_ = 0;
  poke();
}

void Node::answer_snapshot_waiters(const ipc::AdminReply& reply) {
  auto waiters = std::move(snapshot_waiters_);
  snapshot_waiters_.clear();
  snapshot_now_ = false;
  for (auto& w : waiters) w(reply);
}

void Node::maybe_request_snapshot() {
  if (stopped_ || app_snapshot_ || snapshot_storing_ || tick_count_ < snapshot_retry_tick_) return;
  if (!snapshot_now_ && (config_.snapshot_entries == 0 ||
                         applied_.value() < snapshot_index_.value() + config_.snapshot_entries)) {
    snapshot_unavailable_logged_ = false;
    return;
  }
  // The application furthest ahead is asked: its snapshot lets the log be
  // compacted furthest, and one that stopped reading, which would not
  // answer until the request timed out, is behind the others.
  auto best = apps_.end();
  std::optional<raft::SnapshotMeta> best_meta;
  for (auto it = apps_.begin(); it != apps_.end(); ++it) {
    const AppCursor& c = it->second;
    const Index position(c.next.value() - 1);
    if (!c.acclimated || c.join || c.stream->closed() || position < c.silent_through ||
        position <= snapshot_index_) {
      // Asked to snapshot now with nothing new since the last one: that
      // one is the answer.
      if (snapshot_now_ && c.acclimated && position <= snapshot_index_ && position >= c.silent_through) {
        ipc::AdminReply r;
        auto latest = data_dir_.snapshots().latest();
        r.committed = ipc::Committed{snapshot_index_.value(), latest ? latest->meta.term.value() : 0};
        return answer_snapshot_waiters(r);
      }
      continue;
    }
    if (best != apps_.end() && position.value() <= best->second.next.value() - 1) continue;
    // Nothing when a leader's snapshot, stepped while a sync was out, has
    // replaced the log below this position: it installs next, and this
    // application joins from it.
    std::optional<raft::SnapshotMeta> meta = raft_->snapshot_meta_at(position);
    if (!meta) continue;
    best = it;
    best_meta = std::move(meta);
  }
  if (best != apps_.end()) {
    AppCursor& c = best->second;
    auto writer = data_dir_.snapshots().begin(*best_meta);
    if (!writer) return fail_stop("cannot start a snapshot in " + data_dir_.path() + ": " + writer.error().message);
    if (storage::Status s = writer->write(encode_sidecar_part(c.filter)); !s) {
      return fail_stop("cannot write a snapshot in " + data_dir_.path() + ": " + s.error().message);
    }
    const std::uint64_t timeout_ticks = std::max<std::uint64_t>(1, config_.snapshot_timeout_ms / config_.tick_ms);
    app_snapshot_ = std::make_unique<AppSnapshotInProgress>(AppSnapshotInProgress{
        best->first, *best_meta, std::move(writer).value(), 0, tick_count_ + timeout_ticks});
    c.stream->send(ipc::event::SnapshotRequest{best_meta->index.value()});
    spdlog::info("snapshot: asked {} ('{}') for its state as of index {}", c.stream->label(), c.name,
                 best_meta->index.value());
    return;
  }
  if (snapshot_now_) {
    return answer_snapshot_waiters(ipc::AdminReply::failure(
        ipc::AdminError::kRejected, "no acclimated application attached to this node can give a snapshot now"));
  }
  if (!snapshot_unavailable_logged_) {
    snapshot_unavailable_logged_ = true;
    spdlog::warn("snapshot: {} entries were applied since the last snapshot, but no acclimated application is "
                 "attached to produce one; the log is not compacted until one is",
                 applied_.value() - snapshot_index_.value());
  }
}

void Node::app_snapshot_chunk(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index, std::string data,
                              bool done, std::optional<ipc::AppReplyFn> reply) {
  if (!app_snapshot_ || app_snapshot_->from != stream.get() || app_snapshot_->meta.index != Index(index)) {
    // A chunk for a request this node abandoned (or never made).
    if (reply) (*reply)(AppAnswer::failure(AppError::kRejected, "no snapshot of index " + std::to_string(index) +
                                                                    " was requested (or it was abandoned)"));
    return;
  }
  app_snapshot_->bytes += data.size();
  if (storage::Status s = app_snapshot_->writer->write(data); !s) {
    return fail_stop("cannot write a snapshot in " + data_dir_.path() + ": " + s.error().message);
  }
  if (!done) return;
  auto snapshot = std::move(app_snapshot_);
  finish_app_snapshot(std::move(*snapshot), std::move(*reply));
}

void Node::finish_app_snapshot(AppSnapshotInProgress snapshot, ipc::AppReplyFn reply) {
  // Sealed off the loop: the fsync covers the application's whole state.
  // No other snapshot is asked for until this one is stored.
  snapshot_storing_ = true;
  seal_snapshot(std::move(*snapshot.writer), [this, meta = snapshot.meta, bytes = snapshot.bytes,
                                              reply = std::move(reply)](storage::Status s, std::uint64_t data_bytes) {
    snapshot_storing_ = false;
    if (!s) return fail_stop("cannot write a snapshot in " + data_dir_.path() + ": " + s.error().message);
    reply(AppAnswer{});
    ipc::AdminReply stored;
    stored.committed = ipc::Committed{meta.index.value(), meta.term.value()};
    answer_snapshot_waiters(stored);
    // The core and the log change only between Readies, never while one is
    // being synced.
    after_sync([this, meta, bytes, data_bytes] { record_app_snapshot(meta, bytes, data_bytes); });
  });
}

void Node::record_app_snapshot(const raft::SnapshotMeta& meta, std::uint64_t bytes, std::uint64_t data_bytes) {
  if (meta.index <= snapshot_index_) return;  // a newer one arrived from the leader meanwhile
  raft_->snapshot_taken(meta);
  snapshot_index_ = meta.index;
  ++counts_.snapshots_taken;
  counts_.snapshots_taken_bytes += data_bytes;
  // Keep some entries behind the snapshot, so a follower slightly behind
  // catches up from the log instead of needing the whole snapshot, and
  // every entry an attached application has still to read, unless it lags
  // so far that keeping them would let the log grow without bound.
  const std::uint64_t trailing = std::min<std::uint64_t>(config_.snapshot_entries / 2, 5000);
  std::uint64_t compact_to = meta.index.value() > trailing ? meta.index.value() - trailing : 0;
  std::vector<std::pair<std::shared_ptr<ipc::AppStream>, Index>> too_far_behind;
  for (const auto& [key, c] : apps_) {
    if (c.stream->closed()) continue;  // reads nothing more
    const std::uint64_t position = c.next.value() - 1;
    const std::uint64_t behind = meta.index.value() > position ? meta.index.value() - position : 0;
    if (config_.application_lag_max != 0 && behind > config_.application_lag_max) {
      too_far_behind.emplace_back(c.stream, Index(position));
    } else {
      compact_to = std::min(compact_to, position);
    }
  }
  // Closing may detach synchronously, which erases from apps_.
  for (const auto& [stream, position] : too_far_behind) detach_lagging(*stream, position, meta.index);
  if (compact_to > 0) {
    raft_->compact(Index(compact_to));
    auto retired = data_dir_.compact(Index(compact_to));
    if (!retired) {
      return fail_stop("compacting the log in " + data_dir_.path() + " failed: " + retired.error().message);
    }
    if (!retired->empty()) {
      // Deleting a large file takes as long as freeing its blocks: not on
      // the loop. A failure costs only disk space (the next start removes
      // what is left).
      snapshot_thread_->run([this, paths = std::move(retired).value()] {
        return data_dir_.snapshots().delete_retired(paths);
      }, [](storage::Status s) {
        if (!s) spdlog::warn("snapshot: could not delete an old snapshot: {}", s.error().message);
      });
    }
  }
  spdlog::info("snapshot: stored the application's state through index {} (term {}, {} bytes); compacted the log "
               "through index {}",
               meta.index.value(), meta.term.value(), bytes, compact_to);
}

void Node::abort_app_snapshot(const std::string& why) {
  if (!app_snapshot_) return;
  spdlog::warn("snapshot: abandoned the snapshot through index {}: {}; asking again in {} ticks",
               app_snapshot_->meta.index.value(), why, ticks(5));
  app_snapshot_.reset();  // the writer discards its temporary file
  snapshot_retry_tick_ = tick_count_ + ticks(5);
  answer_snapshot_waiters(ipc::AdminReply::failure(ipc::AdminError::kRejected, "the snapshot was abandoned: " + why));
}

void Node::app_snapshot_failed(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index, std::string reason,
                               ipc::AppReplyFn reply) {
  if (app_snapshot_ && app_snapshot_->from == stream.get() && app_snapshot_->meta.index == Index(index)) {
    abort_app_snapshot(stream->label() + " could not produce it: " + reason);
  }
  reply(AppAnswer{});
}

void Node::fail_app_requests(const std::string& why) {
  auto reads = std::move(reads_);
  reads_.clear();
  for (auto& [context, reply] : reads) reply(AppAnswer::failure(AppError::kShuttingDown, why));
  abort_app_snapshot(why);
  answer_snapshot_waiters(ipc::AdminReply::failure(ipc::AdminError::kShuttingDown, why));
  // Closing may detach synchronously, which erases from apps_.
  std::vector<std::shared_ptr<ipc::AppStream>> streams;
  for (auto& [key, c] : apps_) streams.push_back(c.stream);
  for (auto& stream : streams) stream->close(AppError::kShuttingDown, why);
}

}  // namespace conclave::node
