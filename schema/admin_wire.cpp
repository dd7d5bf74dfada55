// The admin values' conversions to and from admin.capnp. See admin_wire.h.
#include "schema/admin_wire.h"

namespace conclave::admin {
namespace {

namespace wire = schema::admin;

// The mirror is a cast, so it must be exact.
constexpr bool same(ErrorCode ours, wire::ErrorCode theirs) {
  return static_cast<std::uint16_t>(ours) == static_cast<std::uint16_t>(theirs);
}
static_assert(same(ErrorCode::kNone, wire::ErrorCode::NONE));
static_assert(same(ErrorCode::kNotLeader, wire::ErrorCode::NOT_LEADER));
static_assert(same(ErrorCode::kNoLeader, wire::ErrorCode::NO_LEADER));
static_assert(same(ErrorCode::kRejected, wire::ErrorCode::REJECTED));
static_assert(same(ErrorCode::kTimeout, wire::ErrorCode::TIMEOUT));
static_assert(same(ErrorCode::kMalformed, wire::ErrorCode::MALFORMED));
static_assert(same(ErrorCode::kInternal, wire::ErrorCode::INTERNAL));
static_assert(same(ErrorCode::kShuttingDown, wire::ErrorCode::SHUTTING_DOWN));

}  // namespace

wire::ErrorCode to_wire(ErrorCode code) { return static_cast<wire::ErrorCode>(code); }
ErrorCode from_wire(wire::ErrorCode code) { return static_cast<ErrorCode>(code); }

void to_wire(const Status& s, wire::Status::Builder out) {
  out.setNodeId(s.node_id);
  out.setClusterId(s.cluster_id);
  out.setRole(s.role);
  out.setTerm(s.term);
  out.setLeader(s.leader);
  out.setCommitIndex(s.commit_index);
  out.setAppliedIndex(s.applied_index);
  out.setLastIndex(s.last_index);
  out.setSnapshotIndex(s.snapshot_index);
  out.setDurableIndex(s.durable_index);
  auto members = out.initMembers(static_cast<unsigned>(s.members.size()));
  for (unsigned i = 0; i < s.members.size(); ++i) {
    const Member& m = s.members[i];
    auto b = members[i];
    b.setId(m.id);
    b.setAddress(m.address);
    b.setVoter(m.voter);
    b.setMatch(m.match);
    b.setNext(m.next);
    b.setState(m.state);
    b.setRecentlyActive(m.recently_active);
    b.setLag(m.lag);
    b.setHeard(m.heard);
    b.setHeardAgoMs(m.heard_ago_ms);
    b.setSendingSnapshot(m.sending_snapshot);
  }
}

Status from_wire(wire::Status::Reader s) {
  Status out;
  out.node_id = s.getNodeId();
  out.cluster_id = s.getClusterId();
  out.role = s.getRole();
  out.term = s.getTerm();
  out.leader = s.getLeader();
  out.commit_index = s.getCommitIndex();
  out.applied_index = s.getAppliedIndex();
  out.last_index = s.getLastIndex();
  out.snapshot_index = s.getSnapshotIndex();
  out.durable_index = s.getDurableIndex();
  for (auto m : s.getMembers()) {
    Member member;
    member.id = m.getId();
    member.address = m.getAddress();
    member.voter = m.getVoter();
    member.match = m.getMatch();
    member.next = m.getNext();
    member.state = m.getState();
    member.recently_active = m.getRecentlyActive();
    member.lag = m.getLag();
    member.heard = m.getHeard();
    member.heard_ago_ms = m.getHeardAgoMs();
    member.sending_snapshot = m.getSendingSnapshot();
    out.members.push_back(std::move(member));
  }
  return out;
}

void to_wire(const Committed& c, wire::Committed::Builder out) {
  out.setIndex(c.index);
  out.setTerm(c.term);
}

Committed from_wire(wire::Committed::Reader c) { return Committed{c.getIndex(), c.getTerm()}; }

}  // namespace conclave::admin
