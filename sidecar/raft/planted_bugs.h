// Known Raft bugs that a test build can plant, one per core variant, to prove
// the simulator catches them (see sidecar/raft/CMakeLists.txt). Each flag is
// false unless its variant is being compiled; the default core has none.
#pragma once

namespace conclave::raft::planted {

#ifdef CONCLAVE_PLANTED_BUG_COMMIT_OLD_TERM
// The leader commits an entry of an earlier term by counting replicas
// (the Figure 8 scenario of the Raft paper).
inline constexpr bool kCommitOldTerm = true;
#else
inline constexpr bool kCommitOldTerm = false;
#endif

#ifdef CONCLAVE_PLANTED_BUG_VOTE_BEFORE_PERSIST
// A vote is granted without being made durable: after a crash the voter can
// vote again in the same term.
inline constexpr bool kVoteBeforePersist = true;
#else
inline constexpr bool kVoteBeforePersist = false;
#endif

#ifdef CONCLAVE_PLANTED_BUG_VOTE_WITHOUT_LOG_CHECK
// A vote is granted without checking that the candidate's log is at least as
// up to date as the voter's.
inline constexpr bool kVoteWithoutLogCheck = true;
#else
inline constexpr bool kVoteWithoutLogCheck = false;
#endif

#ifdef CONCLAVE_PLANTED_BUG_FOLLOWER_TRUNCATES
// A follower drops every entry after an AppendEntries' last entry, even those
// that agree with the leader (a stale, reordered append then erases entries
// the follower already acknowledged).
inline constexpr bool kFollowerTruncates = true;
#else
inline constexpr bool kFollowerTruncates = false;
#endif

}  // namespace conclave::raft::planted
