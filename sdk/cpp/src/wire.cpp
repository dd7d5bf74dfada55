// Encoding and decoding of the application protocol's frames.
#include "wire.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "schema/app.capnp.h"

namespace conclave::detail {

namespace app = conclave::schema::app;

namespace {

ErrorCode code_of(app::ErrorCode code) {
  switch (code) {
    case app::ErrorCode::NONE: return ErrorCode::none;
    case app::ErrorCode::NO_LEADER: return ErrorCode::no_leader;
    case app::ErrorCode::UNKNOWN: return ErrorCode::unknown;
    case app::ErrorCode::REJECTED: return ErrorCode::rejected;
    case app::ErrorCode::TIMEOUT: return ErrorCode::timeout;
    case app::ErrorCode::MALFORMED: return ErrorCode::malformed;
    case app::ErrorCode::SHUTTING_DOWN: return ErrorCode::shutting_down;
    case app::ErrorCode::INTERNAL: return ErrorCode::internal;
    case app::ErrorCode::FORBIDDEN: return ErrorCode::forbidden;
    case app::ErrorCode::VERSION: return ErrorCode::version;
  }
  // A code newer than this SDK: treat it as the sidecar refusing.
  return ErrorCode::rejected;
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
std::string bytes(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}
capnp::Data::Reader data_of(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}

Member member_of(app::Member::Reader m) { return Member{m.getIndex(), m.getNode(), text(m.getAddress())}; }

Status status_of(app::Status::Reader s) {
  Status out;
  out.node_id = s.getNodeId();
  out.cluster_id = text(s.getClusterId());
  out.role = text(s.getRole());
  out.term = s.getTerm();
  out.leader = s.getLeader();
  out.commit_index = s.getCommitIndex();
  out.streamed_index = s.getStreamedIndex();
  out.applied_index = s.getAppliedIndex();
  out.last_index = s.getLastIndex();
  out.snapshot_index = s.getSnapshotIndex();
  for (auto m : s.getMembers()) out.members.push_back(member_of(m));
  return out;
}

Answer answer_of(app::Answer::Reader a) {
  Answer out;
  out.id = a.getId();
  out.code = code_of(a.getError());
  out.reason = text(a.getReason());
  switch (a.which()) {
    case app::Answer::NONE: break;
    case app::Answer::ATTACHED: {
      auto at = a.getAttached();
      out.kind = Answer::Kind::attached;
      out.attached = Attached{at.getVersion(), at.getNodeId(), text(at.getClusterId()), at.getLeader(),
                              at.getCommitIndex()};
      break;
    }
    case app::Answer::COMMITTED:
      out.kind = Answer::Kind::committed;
      out.index = a.getCommitted().getIndex();
      out.term = a.getCommitted().getTerm();
      break;
    case app::Answer::READ_INDEX:
      out.kind = Answer::Kind::read_index;
      out.index = a.getReadIndex();
      break;
    case app::Answer::STATUS:
      out.kind = Answer::Kind::status;
      out.status = status_of(a.getStatus());
      break;
  }
  return out;
}

StreamEvent entry_of(app::Entry::Reader entry) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::entry;
  e.index = entry.getIndex();
  e.term = entry.getTerm();
  e.data = bytes(entry.getData());
  return e;
}

StreamEvent event_of(app::FromSidecar::Reader m) {
  using K = StreamEvent::Kind;
  StreamEvent e;
  switch (m.which()) {
    case app::FromSidecar::BOOTSTRAP: e.kind = K::bootstrap; break;
    case app::FromSidecar::JOIN:
      e.kind = K::join;
      e.index = m.getJoin().getIndex();
      e.term = m.getJoin().getTerm();
      e.bytes = m.getJoin().getBytes();
      break;
    case app::FromSidecar::JOIN_CHUNK:
      e.kind = K::join_chunk;
      e.bytes = m.getJoinChunk().getOffset();
      e.data = bytes(m.getJoinChunk().getData());
      e.done = m.getJoinChunk().getDone();
      break;
    case app::FromSidecar::ENTRY: return entry_of(m.getEntry());
    case app::FromSidecar::ARRIVE:
    case app::FromSidecar::DEPART: {
      auto mm = m.which() == app::FromSidecar::ARRIVE ? m.getArrive() : m.getDepart();
      e.kind = m.which() == app::FromSidecar::ARRIVE ? K::arrive : K::depart;
      e.index = mm.getIndex();
      e.node = mm.getNode();
      e.address = text(mm.getAddress());
      break;
    }
    case app::FromSidecar::ACCLIMATED:
      e.kind = K::acclimated;
      e.index = m.getAcclimated().getIndex();
      break;
    case app::FromSidecar::PASSED:
      e.kind = K::passed;
      e.index = m.getPassed();
      break;
    case app::FromSidecar::SNAPSHOT:
      e.kind = K::snapshot;
      e.index = m.getSnapshot().getIndex();
      break;
    case app::FromSidecar::CLOSING:
      e.kind = K::closing;
      e.code = code_of(m.getClosing().getError());
      e.reason = text(m.getClosing().getReason());
      break;
    case app::FromSidecar::ANSWER:  // handled by the caller
    case app::FromSidecar::ENTRIES:
    case app::FromSidecar::ANSWERS:
      break;
  }
  return e;
}

Frame finish(capnp::MallocMessageBuilder& message) { return capnp::messageToFlatArray(message); }

// The first segment sized to hold the whole message: the builder's default
// of 1024 words is allocated zeroed, 8 KiB per proposal, and was a
// twentieth of a busy client's time. 32 words hold any message's fixed
// part; `bytes` is the data or text it carries.
capnp::uint first_segment_words(std::size_t bytes = 0) {
  return static_cast<capnp::uint>(32 + (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word));
}

}  // namespace

std::uint32_t protocol_version() { return app::K_VERSION; }

void decode(kj::ArrayPtr<const capnp::word> words, std::vector<Answer>& answers, std::vector<StreamEvent>& events) {
  try {
    capnp::FlatArrayMessageReader reader(words);
    auto m = reader.getRoot<app::FromSidecar>();
    // A union member newer than this SDK reads as which() beyond our cases;
    // the switch in event_of leaves it as bootstrap, so refuse it here.
    auto which = static_cast<unsigned>(m.which());
    if (which > static_cast<unsigned>(app::FromSidecar::ANSWERS)) {
      throw Error(ErrorCode::malformed, "the sidecar sent a message kind this SDK does not know (" +
                                            std::to_string(which) + "); upgrade the SDK");
    }
    switch (m.which()) {
      case app::FromSidecar::ANSWER:
        answers.push_back(answer_of(m.getAnswer()));
        return;
      case app::FromSidecar::ANSWERS:
        for (auto a : m.getAnswers()) answers.push_back(answer_of(a));
        return;
      case app::FromSidecar::ENTRIES:
        for (auto entry : m.getEntries()) events.push_back(entry_of(entry));
        return;
      default:
        events.push_back(event_of(m));
        return;
    }
  } catch (const kj::Exception& e) {
    throw Error(ErrorCode::malformed, std::string("undecodable frame from the sidecar: ") + e.getDescription().cStr());
  }
}

Frame encode_attach(std::uint64_t id, std::string_view name, Index applied) {
  capnp::MallocMessageBuilder message(first_segment_words(name.size() + 1));
  auto m = message.initRoot<app::ToSidecar>();
  m.setId(id);
  auto a = m.initAttach();
  a.setVersion(app::K_VERSION);
  a.setName(capnp::Text::Reader(name.data(), name.size()));
  a.setAppliedIndex(applied);
  a.setBatches(true);
  return finish(message);
}

Frame encode_propose(std::uint64_t id, std::uint64_t session, std::uint64_t seq, std::uint64_t floor,
                     std::string_view data) {
  capnp::MallocMessageBuilder message(first_segment_words(data.size()));
  auto m = message.initRoot<app::ToSidecar>();
  m.setId(id);
  auto p = m.initPropose();
  p.setSession(session);
  p.setSeq(seq);
  p.setFloor(floor);
  p.setData(data_of(data));
  return finish(message);
}

Frame encode_barrier(std::uint64_t id) {
  capnp::MallocMessageBuilder message(first_segment_words());
  auto m = message.initRoot<app::ToSidecar>();
  m.setId(id);
  m.setBarrier();
  return finish(message);
}

Frame encode_status(std::uint64_t id) {
  capnp::MallocMessageBuilder message(first_segment_words());
  auto m = message.initRoot<app::ToSidecar>();
  m.setId(id);
  m.setStatus();
  return finish(message);
}

Frame encode_applied(Index applied) {
  capnp::MallocMessageBuilder message(first_segment_words());
  auto m = message.initRoot<app::ToSidecar>();
  m.setApplied(applied);
  return finish(message);
}

Frame encode_snapshot_chunk(std::uint64_t id, Index index, std::string_view data, bool done, std::string_view failed) {
  capnp::MallocMessageBuilder message(first_segment_words(data.size() + failed.size() + 1));
  auto m = message.initRoot<app::ToSidecar>();
  m.setId(id);
  auto c = m.initSnapshotChunk();
  c.setIndex(index);
  c.setData(data_of(data));
  c.setDone(done);
  if (!failed.empty()) c.setFailed(capnp::Text::Reader(failed.data(), failed.size()));
  return finish(message);
}

}  // namespace conclave::detail
