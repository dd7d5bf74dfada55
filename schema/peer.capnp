# The sidecar-to-sidecar protocol of Conclave.
#
# TRANSPORT. One TCP connection per ordered pair of nodes: each node dials
# every peer it sends to and only sends on connections it dialed; it reads on
# connections it accepted. (Two one-way connections rather than one shared
# one, so neither side has to break ties when both dial at once.) Every frame
# is one Cap'n Proto message in the standard stream framing (a segment table,
# then the segments; see capnp/serialize.h). A receiver bounds the frame size
# (64 MiB by default) and closes the connection, with a reason in its log,
# on an oversized or malformed frame. The acceptor's first frame is
# `challenge` (a fresh random nonce), sent as soon as it accepts; the
# dialer's first frame is `hello`; the acceptor answers `welcome` or
# `refusal` (and closes). Nothing else is read before a hello is accepted,
# and the acceptor sends nothing after its welcome.
#
# HANDSHAKE. A hello names the protocol version, the cluster id, the sender's
# node id, and proves knowledge of the cluster secret when one is configured
# (an HMAC-SHA256 over the acceptor's challenge nonce, so a recorded hello
# cannot be replayed). The hello carries a nonce of its own, and the welcome
# proves the acceptor knows the secret too, so a dialer never hands Raft
# traffic or snapshots to an impostor at a peer's address. (Frames after the
# handshake are neither encrypted nor authenticated: mutual TLS replaces
# this in a later version.) The acceptor refuses a hello from another cluster, from an
# id it does not know as a member or learner (unless it is still waiting to
# be contacted), with the wrong proof, or with an unsupported version. The
# refusal says why, so the operator reading the dialer's log can fix it.
#
# MESSAGES. After the handshake the dialer sends `raft` frames (one Raft
# message each, field for field `conclave::raft::Message`), `snapshotChunk`
# frames, `forward` frames (an application's proposal that a follower
# passes to the leader; several go in one `forwards` frame to a node that
# said in its welcome that it reads those, and a leader's `forwardResult`s
# likewise in `forwardResults`), and `statusRequest` frames (conclavectl status
# --cluster on a follower: the leader answers `statusResult` with its view
# of every member, as the admin protocol's Status). Acknowledgements of Raft messages travel as Raft
# messages in the other direction, on the other connection.
#
# JOINING. A node that starts empty with the address of any member dials it
# with `hello.joining` set and sends `join` (its id and address). A member
# that is not the leader answers with the leader's id and address, and the
# joiner asks again there; the leader adds the joiner as a learner and
# answers once that change commits. Answers travel on a connection the
# member dials to the address the joiner gave, like any other frame. The
# leader promotes the learner to voter once it has caught up.
#
# SNAPSHOTS. When the Raft core tells a node to send InstallSnapshot, the
# node streams the snapshot's bytes as snapshotChunk frames (offsets
# contiguous from 0, at most 1 MiB each), the last with `done` set and the
# Raft message that introduces it (that last chunk may carry no data); the
# first chunk carries the snapshot's metadata. Other frames to the same peer may travel between
# chunks, so heartbeats keep flowing during a long transfer. The receiver
# writes the chunks to its snapshot store as they come and, once the last is
# durable, steps its core with the Raft message. A chunk out of order, or a
# new snapshot while one is in progress, restarts the receiver's copy.
#
# COMPATIBILITY. Fields are only ever added at the end of a struct, with the
# next ordinal; unions only grow. A receiver ignores fields it does not know.
@0xb5aa908958880ae4;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("conclave::schema::peer");
using Admin = import "admin.capnp";

const protocolVersion :UInt32 = 1;

struct Frame {
  union {
    hello @0 :Hello;
    welcome @1 :Welcome;
    refusal @2 :Refusal;
    raft @3 :RaftMessage;
    snapshotChunk @4 :SnapshotChunk;
    forward @5 :ForwardedProposal;
    forwardResult @6 :ForwardResult;
    join @7 :JoinRequest;
    joinResult @8 :JoinResult;
    challenge @9 :Challenge;
    statusRequest @10 :StatusRequest;
    statusResult @11 :StatusResult;
    # Several forwarded proposals, or several results, in one frame: sent
    # only to a node whose welcome set forwardBatches.
    forwards @12 :List(ForwardedProposal);
    forwardResults @13 :List(ForwardResult);
  }
}

struct Hello {
  protocolVersion @0 :UInt32;
  clusterId @1 :Text;
  nodeId @2 :UInt64;
  # The address this node's peers should dial it at ("host:port").
  advertisedAddress @3 :Text;
  # HMAC-SHA256(cluster secret, "conclave-peer-v1" || challenge nonce ||
  # clusterId || nodeId as 8 bytes little-endian), empty when the dialer has
  # no secret configured.
  proof @4 :Data;
  # Set by a node that is not a member yet and dials only to send `join`:
  # the acceptor admits it without knowing its id, and reads nothing but
  # join frames from it.
  joining @5 :Bool;
  # The dialer's challenge to the acceptor, answered by welcome.proof.
  nonce @6 :Data;
}

# The acceptor's first frame: a nonce the dialer's proof must cover.
struct Challenge {
  nonce @0 :Data;
}

struct Welcome {
  nodeId @0 :UInt64;
  # HMAC-SHA256(cluster secret, "conclave-peer-v1-welcome" || hello.nonce ||
  # clusterId || nodeId as 8 bytes little-endian), empty when the acceptor
  # has no secret configured. A dialer with a secret requires it.
  proof @1 :Data;
  # The acceptor reads `forwards` and `forwardResults`; to an older node
  # that does not, the dialer sends one `forward` (`forwardResult`) frame
  # each.
  forwardBatches @2 :Bool;
}

struct Refusal {
  reason @0 :Text;
}

enum MessageType {
  unknown @0;
  preVote @1;
  preVoteResponse @2;
  vote @3;
  voteResponse @4;
  append @5;
  appendResponse @6;
  heartbeat @7;
  heartbeatResponse @8;
  installSnapshot @9;
  timeoutNow @10;
  readIndex @11;
  readIndexResponse @12;
}

enum EntryType {
  unknown @0;
  normal @1;
  noop @2;
  config @3;
}

struct Entry {
  index @0 :UInt64;
  term @1 :UInt64;
  type @2 :EntryType;
  data @3 :Data;
}

struct Configuration {
  voters @0 :List(UInt64);
  learners @1 :List(UInt64);
  # Where each member listens for peers, so whoever leads can reach everyone.
  addresses @2 :List(NodeAddress);
}

struct NodeAddress {
  nodeId @0 :UInt64;
  address @1 :Text;
}

struct SnapshotMeta {
  index @0 :UInt64;
  term @1 :UInt64;
  config @2 :Configuration;
}

# conclave::raft::Message, field for field (see sidecar/raft/message.h for
# what each field means for each type).
struct RaftMessage {
  type @0 :MessageType;
  from @1 :UInt64;
  to @2 :UInt64;
  term @3 :UInt64;
  prevIndex @4 :UInt64;
  prevTerm @5 :UInt64;
  entries @6 :List(Entry);
  commit @7 :UInt64;
  lastLogIndex @8 :UInt64;
  lastLogTerm @9 :UInt64;
  transfer @10 :Bool;
  reject @11 :Bool;
  matchIndex @12 :UInt64;
  hintIndex @13 :UInt64;
  hintTerm @14 :UInt64;
  context @15 :UInt64;
  readIndex @16 :UInt64;
  hasSnapshot @17 :Bool;
  snapshot @18 :SnapshotMeta;
}

struct SnapshotChunk {
  # Identifies the snapshot being streamed.
  index @0 :UInt64;
  term @1 :UInt64;
  offset @2 :UInt64;
  data @3 :Data;
  done @4 :Bool;
  # On the last chunk only: the InstallSnapshot message to step once the
  # snapshot is durable (its snapshot field carries the metadata).
  message @5 :RaftMessage;
  # On the last chunk only: total data bytes, checked by the receiver.
  totalBytes @6 :UInt64;
  # On the first chunk (offset 0) only: the snapshot's metadata, so the
  # receiver can write the chunks straight into its snapshot store.
  meta @7 :SnapshotMeta;
}

# An application's proposal, passed from a follower's sidecar to the leader's.
struct ForwardedProposal {
  requestId @0 :UInt64;
  data @1 :Data;
  # Retries of one proposal carry the same client session and sequence
  # number, so the state machine applies it once (dissertation §6.3).
  clientSession @2 :UInt64;
  sequence @3 :UInt64;
}

struct ForwardResult {
  requestId @0 :UInt64;
  # Set once the entry is committed: where it landed.
  index @1 :UInt64;
  term @2 :UInt64;
  # Otherwise why not, and the leader to try if known (0: unknown).
  error @3 :Text;
  leaderHint @4 :UInt64;
}

struct JoinRequest {
  nodeId @0 :UInt64;
  # Where the joiner listens for peers ("host:port").
  address @1 :Text;
}

struct JoinResult {
  accepted @0 :Bool;
  # Why not, when not accepted.
  error @1 :Text;
  # The leader to ask instead, when known (0: unknown).
  leaderId @2 :UInt64;
  leaderAddress @3 :Text;
  # Non-zero: the receiver was removed from the cluster by the membership
  # change committed at this index (the leader's notice, since the core
  # stops replicating to a node once its removal is appended).
  removedAt @4 :UInt64;
}

# A follower asks the leader for its view of the cluster (admin.capnp
# clusterStatus).
struct StatusRequest {
  requestId @0 :UInt64;
}

struct StatusResult {
  requestId @0 :UInt64;
  # Empty when `status` holds the answer; otherwise why not (the receiver is
  # not the leader), and the leader to ask instead if known (0: unknown).
  error @1 :Text;
  leaderHint @2 :UInt64;
  status @3 :Admin.Status;
}
