// The in-memory test double; see conclave/testing.h.
#include "conclave/testing.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace conclave::testing {

namespace {

class StringReader final : public SnapshotReader {
 public:
  StringReader(const std::string& bytes, std::size_t chunk) : bytes_(bytes), chunk_(std::max<std::size_t>(chunk, 1)) {}
  std::uint64_t size() const override { return bytes_.size(); }
  std::optional<std::string> next() override {
    // An empty snapshot still comes as one (empty) chunk, as on the wire.
    if (done_) return std::nullopt;
    std::string out = bytes_.substr(offset_, chunk_);
    offset_ += out.size();
    done_ = offset_ >= bytes_.size();
    return out;
  }
  void skip_rest() {
    done_ = true;
  }

 private:
  const std::string& bytes_;
  std::size_t chunk_;
  std::size_t offset_ = 0;
  bool done_ = false;
};

class StringWriter final : public SnapshotWriter {
 public:
  void write(std::string_view bytes) override { out.append(bytes); }
  std::string out;
};

}  // namespace

LocalSidecar::LocalSidecar() : LocalSidecar(Options{}) {}

LocalSidecar::LocalSidecar(Options options) : options_(std::move(options)) {
  // A new cluster's first entry is its founding membership.
  members_[options_.node] = options_.address;
  append(Record{Record::Kind::arrive, 0, options_.address, options_.node});
}

Index LocalSidecar::append(Record record) {
  record.index = ++commit_index_;
  log_.push_back(std::move(record));
  for (Handler* h : attached_) deliver(*h, log_.back());
  return commit_index_;
}

void LocalSidecar::deliver(Handler& handler, const Record& r) {
  switch (r.kind) {
    case Record::Kind::entry: handler.entry(r.index, options_.term, r.data); break;
    case Record::Kind::arrive: handler.arrive(r.index, r.node, r.data); break;
    case Record::Kind::depart: handler.depart(r.index, r.node, r.data); break;
  }
}

void LocalSidecar::join(Handler& handler) {
  StringReader reader(snapshot_, options_.join_chunk_bytes);
  handler.join(snapshot_index_, reader);
  reader.skip_rest();
}

Index LocalSidecar::attach(Handler& handler, Index applied) {
  if (std::find(attached_.begin(), attached_.end(), &handler) != attached_.end()) {
    throw std::logic_error("LocalSidecar::attach: this handler is already attached");
  }
  if (applied > commit_index_) {
    throw std::logic_error("LocalSidecar::attach: applied index " + std::to_string(applied) +
                           " is beyond the commit index " + std::to_string(commit_index_));
  }
  Index from = applied;
  Index first_held = log_.empty() ? commit_index_ + 1 : log_.front().index;
  if (applied + 1 < first_held) {
    join(handler);
    from = snapshot_index_;
  } else if (applied == 0) {
    handler.bootstrap();
  }
  for (const Record& r : log_) {
    if (r.index > from) deliver(handler, r);
  }
  handler.acclimated(commit_index_);
  attached_.push_back(&handler);
  return commit_index_;
}

void LocalSidecar::detach(Handler& handler) {
  attached_.erase(std::remove(attached_.begin(), attached_.end(), &handler), attached_.end());
}

Index LocalSidecar::propose(std::string_view data) {
  return append(Record{Record::Kind::entry, 0, std::string(data), 0});
}

Index LocalSidecar::add_member(NodeId node, std::string address) {
  members_[node] = address;
  return append(Record{Record::Kind::arrive, 0, std::move(address), node});
}

Index LocalSidecar::remove_member(NodeId node) {
  auto it = members_.find(node);
  if (it == members_.end()) {
    throw std::logic_error("LocalSidecar::remove_member: node " + std::to_string(node) + " is not a member");
  }
  std::string address = it->second;
  members_.erase(it);
  return append(Record{Record::Kind::depart, 0, std::move(address), node});
}

Index LocalSidecar::snapshot(Handler& handler, bool compact) {
  if (std::find(attached_.begin(), attached_.end(), &handler) == attached_.end()) {
    throw std::logic_error("LocalSidecar::snapshot: the handler is not attached (attach it first)");
  }
  StringWriter writer;
  handler.snapshot(commit_index_, writer);
  snapshot_ = std::move(writer.out);
  snapshot_index_ = commit_index_;
  if (compact) log_.clear();
  return snapshot_index_;
}

}  // namespace conclave::testing
