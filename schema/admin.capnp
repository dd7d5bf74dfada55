# The administration protocol of a Conclave sidecar, spoken by conclavectl.
#
# TRANSPORT. A UNIX stream socket (conclaved --admin-socket; by default
# <data-dir>/admin.sock, mode 0600). Each frame is one Cap'n Proto message
# in the standard stream framing. The client sends Request frames, each with
# an id of its choosing; the sidecar answers each with exactly one Response
# frame carrying the same id, in any order (a proposal is answered when it
# commits). A malformed or oversized frame (over 1 MiB) gets a Response with
# id 0 and an error, and the connection is closed.
#
# ERRORS. Every error has a code and a reason a person can act on. A request
# that only the leader can serve, sent to a follower, is forwarded to the
# leader by the sidecar where that is possible (propose); otherwise it fails
# with notLeader and the leader's id and address.
#
# COMPATIBILITY. Fields are only ever added at the end of a struct, with the
# next ordinal; unions only grow.
@0xd9436255ad755cfe;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("conclave::schema::admin");

struct Request {
  id @0 :UInt64;
  union {
    status @1 :Void;
    # Propose an opaque entry; answered once committed.
    propose @2 :Data;
    # Membership, served by the leader.
    addLearner @3 :AddLearner;
    promote @4 :UInt64;
    remove @5 :UInt64;
    transferLeader @6 :UInt64;
    # Take a snapshot on this node now, from an attached application, and
    # compact the log behind it; answered once stored (committed carries
    # its index and term), or with rejected when no application can give one.
    snapshot @7 :Void;
    # The leader's view of the whole cluster: the leader's status, whose
    # members carry its replication progress for each. Any node answers:
    # the leader itself, a follower by asking its leader over the peer
    # connection (peer.capnp statusRequest), since conclavectl reaches only
    # its own node's socket. Fails with noLeader while none is known, and
    # with timeout when the leader does not answer in time.
    clusterStatus @8 :Void;
  }
}

struct AddLearner {
  nodeId @0 :UInt64;
  address @1 :Text;
}

enum ErrorCode {
  none @0;
  notLeader @1;
  noLeader @2;
  rejected @3;      # the Raft core refused: see reason
  timeout @4;
  malformed @5;
  internal @6;
  shuttingDown @7;
}

struct Response {
  id @0 :UInt64;
  error @1 :ErrorCode;
  reason @2 :Text;
  leaderHint @3 :UInt64;
  leaderAddress @4 :Text;
  union {
    none @5 :Void;
    status @6 :Status;
    committed @7 :Committed;
  }
}

struct Committed {
  index @0 :UInt64;
  term @1 :UInt64;
}

struct Member {
  id @0 :UInt64;
  address @1 :Text;
  voter @2 :Bool;
  # Leader only: replication progress.
  match @3 :UInt64;
  next @4 :UInt64;
  state @5 :Text;
  recentlyActive @6 :Bool;
  lag @7 :UInt64;
  # Whether the answering node has received a Raft message from this member
  # since it started, and how many milliseconds ago the last one came.
  # False (and 0) for the answering node itself.
  heard @8 :Bool;
  heardAgoMs @9 :UInt64;
  # Leader only: a snapshot is being sent to this member (it is behind the
  # compacted log; state is "snapshot").
  sendingSnapshot @10 :Bool;
}

struct Status {
  nodeId @0 :UInt64;
  clusterId @1 :Text;
  role @2 :Text;
  term @3 :UInt64;
  leader @4 :UInt64;
  commitIndex @5 :UInt64;
  appliedIndex @6 :UInt64;
  lastIndex @7 :UInt64;
  snapshotIndex @8 :UInt64;
  members @9 :List(Member);
  durableIndex @10 :UInt64;
}
