// raft::Message <-> peer.capnp RaftMessage, field for field, with validation.
#include "sidecar/peer/raft_codec.h"

#include <fmt/format.h>

namespace conclave::peer {
namespace {

namespace wire = schema::peer;

wire::MessageType to_wire(raft::MessageType t) {
  switch (t) {
    case raft::MessageType::kPreVote: return wire::MessageType::PRE_VOTE;
    case raft::MessageType::kPreVoteResponse: return wire::MessageType::PRE_VOTE_RESPONSE;
    case raft::MessageType::kVote: return wire::MessageType::VOTE;
    case raft::MessageType::kVoteResponse: return wire::MessageType::VOTE_RESPONSE;
    case raft::MessageType::kAppend: return wire::MessageType::APPEND;
    case raft::MessageType::kAppendResponse: return wire::MessageType::APPEND_RESPONSE;
    case raft::MessageType::kHeartbeat: return wire::MessageType::HEARTBEAT;
    case raft::MessageType::kHeartbeatResponse: return wire::MessageType::HEARTBEAT_RESPONSE;
    case raft::MessageType::kInstallSnapshot: return wire::MessageType::INSTALL_SNAPSHOT;
    case raft::MessageType::kTimeoutNow: return wire::MessageType::TIMEOUT_NOW;
    case raft::MessageType::kReadIndex: return wire::MessageType::READ_INDEX;
    case raft::MessageType::kReadIndexResponse: return wire::MessageType::READ_INDEX_RESPONSE;
  }
  return wire::MessageType::UNKNOWN;
}

std::optional<raft::MessageType> from_wire(wire::MessageType t) {
  switch (t) {
    case wire::MessageType::PRE_VOTE: return raft::MessageType::kPreVote;
    case wire::MessageType::PRE_VOTE_RESPONSE: return raft::MessageType::kPreVoteResponse;
    case wire::MessageType::VOTE: return raft::MessageType::kVote;
    case wire::MessageType::VOTE_RESPONSE: return raft::MessageType::kVoteResponse;
    case wire::MessageType::APPEND: return raft::MessageType::kAppend;
    case wire::MessageType::APPEND_RESPONSE: return raft::MessageType::kAppendResponse;
    case wire::MessageType::HEARTBEAT: return raft::MessageType::kHeartbeat;
    case wire::MessageType::HEARTBEAT_RESPONSE: return raft::MessageType::kHeartbeatResponse;
    case wire::MessageType::INSTALL_SNAPSHOT: return raft::MessageType::kInstallSnapshot;
    case wire::MessageType::TIMEOUT_NOW: return raft::MessageType::kTimeoutNow;
    case wire::MessageType::READ_INDEX: return raft::MessageType::kReadIndex;
    case wire::MessageType::READ_INDEX_RESPONSE: return raft::MessageType::kReadIndexResponse;
    case wire::MessageType::UNKNOWN: break;
  }
  return std::nullopt;
}

wire::EntryType to_wire(raft::EntryType t) {
  switch (t) {
    case raft::EntryType::kNormal: return wire::EntryType::NORMAL;
    case raft::EntryType::kNoop: return wire::EntryType::NOOP;
    case raft::EntryType::kConfig: return wire::EntryType::CONFIG;
  }
  return wire::EntryType::UNKNOWN;
}

std::optional<raft::EntryType> from_wire(wire::EntryType t) {
  switch (t) {
    case wire::EntryType::NORMAL: return raft::EntryType::kNormal;
    case wire::EntryType::NOOP: return raft::EntryType::kNoop;
    case wire::EntryType::CONFIG: return raft::EntryType::kConfig;
    case wire::EntryType::UNKNOWN: break;
  }
  return std::nullopt;
}

std::string to_string(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

capnp::Data::Reader as_data(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}

template <typename T>
Decoded<T> refuse(std::string why) {
  return Decoded<T>{std::nullopt, std::move(why)};
}

}  // namespace

void encode_configuration(const raft::Configuration& config, wire::Configuration::Builder out) {
  auto voters = out.initVoters(static_cast<unsigned>(config.voters.size()));
  unsigned i = 0;
  for (raft::NodeId id : config.voters) voters.set(i++, id.value());
  auto learners = out.initLearners(static_cast<unsigned>(config.learners.size()));
  i = 0;
  for (raft::NodeId id : config.learners) learners.set(i++, id.value());
  auto addresses = out.initAddresses(static_cast<unsigned>(config.addresses.size()));
  i = 0;
  for (const auto& [id, address] : config.addresses) {
    addresses[i].setNodeId(id.value());
    addresses[i].setAddress(address);
    ++i;
  }
}

Decoded<raft::Configuration> decode_configuration(wire::Configuration::Reader in) {
  using R = raft::Configuration;
  if (in.getVoters().size() > kConfigMembersMax || in.getLearners().size() > kConfigMembersMax ||
      in.getAddresses().size() > 2 * kConfigMembersMax) {
    return refuse<R>(fmt::format("configuration with {} voters, {} learners, {} addresses",
                                 in.getVoters().size(), in.getLearners().size(),
                                 in.getAddresses().size()));
  }
  R config;
  for (std::uint64_t id : in.getVoters()) {
    if (id == 0) return refuse<R>("configuration lists node id 0 as a voter");
    config.voters.insert(raft::NodeId(id));
  }
  for (std::uint64_t id : in.getLearners()) {
    if (id == 0) return refuse<R>("configuration lists node id 0 as a learner");
    if (config.is_voter(raft::NodeId(id))) {
      return refuse<R>(fmt::format("configuration lists node {} as voter and learner", id));
    }
    config.learners.insert(raft::NodeId(id));
  }
  for (auto a : in.getAddresses()) {
    if (a.getNodeId() == 0) return refuse<R>("configuration gives an address for node id 0");
    if (a.getAddress().size() > kAddressBytesMax) {
      return refuse<R>(fmt::format("address of {} bytes for node {}", a.getAddress().size(),
                                   a.getNodeId()));
    }
    config.addresses[raft::NodeId(a.getNodeId())] = a.getAddress().cStr();
  }
  return Decoded<R>{std::move(config), {}};
}

void encode_snapshot_meta(const raft::SnapshotMeta& meta, wire::SnapshotMeta::Builder out) {
  out.setIndex(meta.index.value());
  out.setTerm(meta.term.value());
  encode_configuration(meta.config, out.initConfig());
}

Decoded<raft::SnapshotMeta> decode_snapshot_meta(wire::SnapshotMeta::Reader in) {
  using R = raft::SnapshotMeta;
  auto config = decode_configuration(in.getConfig());
  if (!config) return refuse<R>("snapshot metadata: " + config.error);
  R meta;
  meta.index = raft::Index(in.getIndex());
  meta.term = raft::Term(in.getTerm());
  meta.config = std::move(*config.value);
  return Decoded<R>{std::move(meta), {}};
}

void encode_raft_message(const raft::Message& m, wire::RaftMessage::Builder out) {
  out.setType(to_wire(m.type));
  out.setFrom(m.from.value());
  out.setTo(m.to.value());
  out.setTerm(m.term.value());
  out.setPrevIndex(m.prev_index.value());
  out.setPrevTerm(m.prev_term.value());
  if (!m.entries.empty()) {
    auto entries = out.initEntries(static_cast<unsigned>(m.entries.size()));
    for (unsigned i = 0; i < m.entries.size(); ++i) {
      const raft::Entry& e = m.entries[i];
      entries[i].setIndex(e.index.value());
      entries[i].setTerm(e.term.value());
      entries[i].setType(to_wire(e.type));
      entries[i].setData(as_data(e.data));
    }
  }
  out.setCommit(m.commit.value());
  out.setLastLogIndex(m.last_log_index.value());
  out.setLastLogTerm(m.last_log_term.value());
  out.setTransfer(m.transfer);
  out.setReject(m.reject);
  out.setMatchIndex(m.match_index.value());
  out.setHintIndex(m.hint_index.value());
  out.setHintTerm(m.hint_term.value());
  out.setContext(m.context);
  out.setReadIndex(m.read_index.value());
  out.setHasSnapshot(m.snapshot.has_value());
  if (m.snapshot) encode_snapshot_meta(*m.snapshot, out.initSnapshot());
}

Decoded<raft::Message> decode_raft_message(wire::RaftMessage::Reader in) {
  using R = raft::Message;
  raft::Message m;
  auto type = from_wire(in.getType());
  if (!type) {
    return refuse<R>(fmt::format("unknown Raft message type {}",
                                 static_cast<unsigned>(in.getType())));
  }
  m.type = *type;
  if (in.getFrom() == 0 || in.getTo() == 0) return refuse<R>("Raft message from or to node 0");
  m.from = raft::NodeId(in.getFrom());
  m.to = raft::NodeId(in.getTo());
  m.term = raft::Term(in.getTerm());
  m.prev_index = raft::Index(in.getPrevIndex());
  m.prev_term = raft::Term(in.getPrevTerm());
  auto entries = in.getEntries();
  m.entries.reserve(entries.size());
  for (auto e : entries) {
    auto entry_type = from_wire(e.getType());
    if (!entry_type) {
      return refuse<R>(fmt::format("entry {} has unknown type {}", e.getIndex(),
                                   static_cast<unsigned>(e.getType())));
    }
    if (e.getIndex() == 0) return refuse<R>("entry at index 0 (the log starts at 1)");
    // Entries of one message are contiguous; anything else is a broken sender.
    if (!m.entries.empty() && e.getIndex() != m.entries.back().index.value() + 1) {
      return refuse<R>(fmt::format("entries not contiguous: {} follows {}", e.getIndex(),
                                   m.entries.back().index.value()));
    }
    m.entries.push_back(raft::Entry{raft::Index(e.getIndex()), raft::Term(e.getTerm()),
                                    *entry_type, to_string(e.getData())});
  }
  m.commit = raft::Index(in.getCommit());
  m.last_log_index = raft::Index(in.getLastLogIndex());
  m.last_log_term = raft::Term(in.getLastLogTerm());
  m.transfer = in.getTransfer();
  m.reject = in.getReject();
  m.match_index = raft::Index(in.getMatchIndex());
  m.hint_index = raft::Index(in.getHintIndex());
  m.hint_term = raft::Term(in.getHintTerm());
  m.context = in.getContext();
  m.read_index = raft::Index(in.getReadIndex());
  if (in.getHasSnapshot()) {
    auto meta = decode_snapshot_meta(in.getSnapshot());
    if (!meta) return refuse<R>(meta.error);
    m.snapshot = std::move(*meta.value);
  }
  return Decoded<R>{std::move(m), {}};
}

}  // namespace conclave::peer
