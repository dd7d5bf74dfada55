# The application protocol of a Conclave sidecar: how an application, in any
# language, attaches to its own node's sidecar and becomes a replicated state
# machine. This comment is the protocol's documentation; a client can be
# written from it and the structs below alone.
#
# TRANSPORT. One UNIX stream socket per sidecar (conclaved --app-socket; by
# default <data-dir>/app.sock, mode 0660). The connecting process's uid and
# gid are checked (SO_PEERCRED) against the sidecar's allowed lists. Each
# frame is one Cap'n Proto message in the standard stream framing
# (capnp/serialize.h: u32 segment count - 1, u32 segment sizes in words,
# padding to a word, the segments), unpacked. The application sends
# ToSidecar frames; the sidecar sends FromSidecar frames. A frame is at most
# 8 MiB; larger frames are a protocol error (send big states as several
# snapshot chunks).
#
# REQUESTS AND ANSWERS. A ToSidecar message with a non-zero `id` is a
# request: it gets exactly one FromSidecar `answer` with the same id, either
# a result or an error with a code and a reason a person can act on. Answers
# may come in any order (a proposal is answered when it commits) and are
# interleaved with the stream below. Ids are the application's choice; an id
# must not be reused while its request is unanswered. `applied` and
# snapshot chunks other than the last are notices: their id is 0 and nothing
# answers them. An application that set `batches` in its attach may get
# several answers in one `answers` frame, each exactly as if it had come
# alone (the attach's own answer always comes alone, first).
#
# ATTACH. The first message must be `attach` (a request). It carries the
# protocol version the application speaks (kVersion), a name for logs, and
# `appliedIndex`: the index through which the application's own state has
# already applied, 0 for an application with no state. The answer carries
# the sidecar's version, node id, cluster id, leader and commit index. A
# version the sidecar does not speak, or any other message before attach,
# is a protocol error.
#
# THE STREAM. After the attach answer the sidecar sends, in log order:
#  - `bootstrap`: the cluster's state is empty; start from nothing (your
#    applied index is then 0). Sent when appliedIndex is 0 and the sidecar
#    still holds the log from its first entry.
#  - or `join`: start from the snapshot that follows, a `join` header
#    (its index, term and size) and then `joinChunk`s in order, the last
#    with `done` set (at least one chunk, even for an empty state). Sent
#    when the log no longer holds appliedIndex + 1, and also mid-stream when
#    the sidecar itself had to start over from a leader's snapshot. Discard
#    any state you had: the snapshot replaces it. After a join you have
#    applied exactly through its index.
#  - or nothing of the two: appliedIndex was > 0 and the log still holds
#    appliedIndex + 1, so the stream resumes there.
#  - then, in index order, one message per committed log position that
#    concerns the application: `entry` for an application entry (exactly
#    once: retried duplicates are dropped, see SESSIONS), `arrive` / `depart`
#    for a node added to / removed from the cluster's membership. The first
#    entry of a new cluster is its founding membership: an `arrive` for each
#    founder, all at index 1. Positions that concern only the sidecar (a new
#    leader's empty entry, a promotion, a retried duplicate) are skipped, so
#    indices have gaps; when the stream has caught up past such positions
#    the sidecar says so with `passed(index)`: nothing up to that index
#    remains for you, so count yourself applied through it (a barrier's read
#    index may point at a skipped position).
#    An application that set `batches` in its attach may instead get
#    `entries`: several `entry` messages in one frame, to be applied in
#    list order exactly as if they had come one by one. Other messages
#    (arrive, depart, passed, ...) are never inside such a list, so the
#    order of the stream is the order of the frames and, within one, of the
#    list. Batching saves a frame per entry on both sides; a client that
#    does not set the flag gets single `entry` messages only.
#  - `acclimated`, once, when the stream has reached the commit index that
#    stood when the attach was answered: from here on the application is
#    live (its state is as recent as its sidecar knows).
#  - `snapshot(index)`: a request to produce the application's state as of
#    exactly `index` — it arrives right after the last message at or before
#    `index`, so an application that applies the stream in order has
#    applied exactly through it. Answer with `snapshotChunk`s carrying that
#    index (notices, id 0), the last with `done` set and a non-zero id: the
#    sidecar answers that one once the snapshot is durable, or with an error.
#    The application may keep applying the stream while it streams its
#    state, as long as the state it sends is the one as of `index`. An
#    application that cannot produce it ends the chunks with `failed` set to
#    the reason (with `done` and an id); the sidecar abandons that snapshot
#    and asks again later, as it does when no answer comes within
#    snapshot_timeout_ms. The
#    sidecar stores the snapshot, compacts its log behind it, sends it to
#    peers that need it and replays it to applications that join later.
#  - `closing`: the sidecar is about to close the session, with the reason
#    (a protocol error of the application's, or the sidecar stopping).
#
# REQUESTS.
#  - `propose(session, seq, floor, data)`: replicate `data`. Answered with
#    the index at which it committed, on any node (a follower's sidecar
#    forwards to the leader). An error answer with code `unknown` means the
#    outcome is not known (a leader was lost mid-flight): retry with the same
#    session and seq, and at most one of the copies is delivered.
#  - `barrier`: answered with a read index: once the application has applied
#    through it, a read of its local state is linearizable.
#  - `status`: the sidecar's view (role, term, leader, indices, members).
#  - `applied(index)` (a notice): the application has applied through
#    `index`. The sidecar uses it in status and to pick which application to
#    ask for a snapshot.
#
# SESSIONS. A proposal names a client session (a random non-zero 64-bit id
# chosen by the client, one per client process or connection) and a sequence
# number, increasing by one per proposal of that session, starting at 1.
# `floor` is the lowest sequence number the client may still retry: every
# seq below it was answered or abandoned, and the client promises never to
# send it again. An entry whose (session, seq) was already delivered, or whose seq is
# below the session's floor, is dropped from the stream. Session 0 means
# "no deduplication". Sessions not heard of for a long while (more than
# 100000 sessions newer than it) are forgotten; a retry after that may be
# delivered twice.
#
# BACK-PRESSURE. The sidecar reads the log from disk for an application that
# falls behind; a slow application slows only itself. An application that
# does not read its socket at all is eventually closed. One further behind a
# new snapshot than the sidecar's `application_lag_max` (a million entries
# by default) is closed with `rejected`, so that the log can be compacted:
# attach again with the index applied, and the stream resumes from the log
# if it still holds that index, or starts with a `join`.
#
# WHICH ERRORS ARE FINAL. `forbidden`, `version` and `malformed` (in an
# answer or a `closing`) will not go away by reconnecting: stop, and tell a
# person. Everything else may be retried; `closing` with `shuttingDown`
# means reconnect once the sidecar is back.
#
# COMPATIBILITY. Fields are only ever added at the end of a struct, with the
# next ordinal; unions only grow. A peer ignores fields it does not know.
@0xb1c0d5e0a63f4a27;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("conclave::schema::app");

const kVersion :UInt32 = 1;

# ---- application -> sidecar -------------------------------------------------

struct ToSidecar {
  id @0 :UInt64;
  union {
    attach @1 :Attach;
    propose @2 :Propose;
    barrier @3 :Void;
    status @4 :Void;
    applied @5 :UInt64;
    snapshotChunk @6 :SnapshotChunk;
  }
}

struct Attach {
  version @0 :UInt32;
  name @1 :Text;
  appliedIndex @2 :UInt64;
  # The application reads the list forms `entries` and `answers` (see THE
  # STREAM and REQUESTS AND ANSWERS). Older sidecars ignore this and send
  # single messages.
  batches @3 :Bool;
}

struct Propose {
  session @0 :UInt64;
  seq @1 :UInt64;
  floor @2 :UInt64;
  data @3 :Data;
}

struct SnapshotChunk {
  # The index of the snapshot request being answered.
  index @0 :UInt64;
  data @1 :Data;
  done @2 :Bool;
  # With done: the application could not produce the state; why.
  failed @3 :Text;
}

# ---- sidecar -> application -------------------------------------------------

struct FromSidecar {
  union {
    answer @0 :Answer;
    bootstrap @1 :Void;
    join @2 :Join;
    joinChunk @3 :JoinChunk;
    entry @4 :Entry;
    arrive @5 :Member;
    depart @6 :Member;
    acclimated @7 :Acclimated;
    snapshot @8 :SnapshotRequest;
    closing @9 :Closing;
    passed @10 :UInt64;
    # Consecutive entries, in order; only to an application that attached
    # with batches.
    entries @11 :List(Entry);
    # Answers to several requests; likewise.
    answers @12 :List(Answer);
  }
}

enum ErrorCode {
  none @0;
  # No leader is known right now (an election is under way): retry shortly.
  noLeader @1;
  # The outcome is not known (the leader changed while the proposal was in
  # flight): retry with the same session and seq.
  unknown @2;
  # The sidecar refused the request: see reason (e.g. too many pending).
  rejected @3;
  timeout @4;
  # The message broke the protocol; the session is being closed.
  malformed @5;
  # The sidecar is stopping.
  shuttingDown @6;
  # The sidecar failed (e.g. its disk); see reason and the sidecar's log.
  internal @7;
  # The connecting process is not allowed on this socket.
  forbidden @8;
  # Attach asked for a protocol version the sidecar does not speak.
  version @9;
}

struct Answer {
  id @0 :UInt64;
  error @1 :ErrorCode;
  reason @2 :Text;
  union {
    none @3 :Void;
    attached @4 :Attached;
    committed @5 :Committed;
    readIndex @6 :UInt64;
    status @7 :Status;
  }
}

struct Attached {
  version @0 :UInt32;
  nodeId @1 :UInt64;
  clusterId @2 :Text;
  leader @3 :UInt64;
  commitIndex @4 :UInt64;
}

struct Committed {
  index @0 :UInt64;
  term @1 :UInt64;
}

struct Join {
  index @0 :UInt64;
  term @1 :UInt64;
  # The application state's size in bytes, across all chunks.
  bytes @2 :UInt64;
}

struct JoinChunk {
  offset @0 :UInt64;
  data @1 :Data;
  done @2 :Bool;
}

struct Entry {
  index @0 :UInt64;
  term @1 :UInt64;
  data @2 :Data;
  # Who proposed it (0 for no session), so a client can recognise its own.
  session @3 :UInt64;
  seq @4 :UInt64;
}

struct Member {
  index @0 :UInt64;
  node @1 :UInt64;
  address @2 :Text;
}

struct Acclimated {
  index @0 :UInt64;
}

struct SnapshotRequest {
  index @0 :UInt64;
}

struct Closing {
  error @0 :ErrorCode;
  reason @1 :Text;
}

struct Status {
  nodeId @0 :UInt64;
  clusterId @1 :Text;
  role @2 :Text;
  term @3 :UInt64;
  leader @4 :UInt64;
  commitIndex @5 :UInt64;
  # What this session has been sent, and what it acknowledged with applied.
  streamedIndex @6 :UInt64;
  appliedIndex @7 :UInt64;
  lastIndex @8 :UInt64;
  snapshotIndex @9 :UInt64;
  members @10 :List(Member);
}
