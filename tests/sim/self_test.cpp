// Tests of the simulator's own parts: the checkers must fail when a property
// is broken (a checker that cannot fail proves nothing), and the simulated
// disk must follow the write, sync and crash semantics the host relies on.
#include <gtest/gtest.h>

#include "tests/sim/checker.h"
#include "tests/sim/disk.h"
#include "tests/sim/hashing.h"
#include "tests/sim/rng.h"
#include "tests/sim/state_machine.h"
#include "tests/sim/violation.h"

namespace conclave::sim {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::NodeId;
using raft::Term;

Entry entry(std::uint64_t index, std::uint64_t term, std::string data = "x") {
  return Entry{Index(index), Term(term), EntryType::kNormal, std::move(data)};
}

TEST(StoredLog, WriteReplacesEverythingFromTheFirstIndex) {
  StoredLog log;
  log.write({entry(1, 1), entry(2, 1), entry(3, 1)});
  const std::vector<LogSlot> removed = log.write({entry(2, 2)});
  EXPECT_EQ(log.last_index(), Index(2));
  EXPECT_EQ(*log.term_at(Index(2)), Term(2));
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_THROW(log.write({entry(5, 2)}), Violation);  // a gap
}

TEST(StoredLog, InstallKeepsAMatchingSuffixOnly) {
  StoredLog log;
  log.write({entry(1, 1), entry(2, 1), entry(3, 1)});
  log.install(Index(2), Term(1), 42);
  EXPECT_EQ(log.base_index(), Index(2));
  EXPECT_EQ(log.last_index(), Index(3));
  log.install(Index(3), Term(9), 43);  // conflicts: the log goes
  EXPECT_EQ(log.last_index(), Index(3));
  EXPECT_EQ(log.size(), 0u);
}

TEST(Disk, CrashKeepsSyncedWritesAndAPrefixOfTheRest) {
  Disk disk(raft::SnapshotMeta{}, encode_snapshot(MachineState{}, 0));
  disk.write_entries({entry(1, 1)});
  disk.sync();
  disk.write_entries({entry(2, 1)});
  disk.write_hard_state(raft::HardState{Term(1), NodeId(1), Index(1)});
  Rng rng(7);
  disk.crash(rng);
  EXPECT_GE(disk.durable().log.last_index(), Index(1));
  EXPECT_EQ(disk.view().log.last_index(), disk.durable().log.last_index());
  EXPECT_FALSE(disk.has_pending());
}

TEST(StateMachine, SnapshotRoundTripsAndRejectsDamage) {
  MachineState s = apply_entry(MachineState{}, entry(1, 1, "a"));
  std::string bytes = encode_snapshot(s, 100);
  EXPECT_EQ(*decode_snapshot(bytes), s);
  bytes[20] ^= 1;
  EXPECT_FALSE(decode_snapshot(bytes).has_value());
  EXPECT_FALSE(decode_snapshot(bytes.substr(0, 30)).has_value());
}

TEST(Checker, TwoLeadersInOneTermFail) {
  Checker c(raft::Configuration{});
  StoredLog log;
  c.on_role(NodeId(1), raft::Role::kLeader, Term(3), log);
  EXPECT_NO_THROW(c.on_role(NodeId(1), raft::Role::kLeader, Term(3), log));
  EXPECT_THROW(c.on_role(NodeId(2), raft::Role::kLeader, Term(3), log), Violation);
}

TEST(Checker, DifferentPrefixesUnderOneIndexAndTermFail) {
  Checker c(raft::Configuration{});
  c.on_log_slot(NodeId(1), LogSlot{entry(1, 1), 11});
  EXPECT_THROW(c.on_log_slot(NodeId(2), LogSlot{entry(1, 1), 12}), Violation);
}

TEST(Checker, DifferentEntriesAppliedAtOneIndexFail) {
  Checker c(raft::Configuration{});
  const Entry a = entry(1, 1, "a");
  StoredLog log;
  log.write({a});
  c.on_log_slot(NodeId(1), *log.at(Index(1)));
  c.on_apply(NodeId(1), a, apply_entry(MachineState{}, a));
  const Entry b = entry(1, 1, "b");
  EXPECT_THROW(c.on_apply(NodeId(2), b, apply_entry(MachineState{}, b)), Violation);
}

TEST(Checker, ANewLeaderWithoutACommittedEntryFails) {
  Checker c(raft::Configuration{});
  const Entry a = entry(1, 1, "a");
  StoredLog full;
  full.write({a});
  c.on_log_slot(NodeId(1), *full.at(Index(1)));
  c.on_role(NodeId(1), raft::Role::kLeader, Term(1), full);
  c.on_apply(NodeId(1), a, apply_entry(MachineState{}, a));
  StoredLog empty;
  EXPECT_THROW(c.on_role(NodeId(2), raft::Role::kLeader, Term(2), empty), Violation);
}

TEST(Checker, TruncatingACommittedEntryFails) {
  Checker c(raft::Configuration{});
  StoredLog log;
  log.write({entry(1, 1, "a")});
  c.on_log_slot(NodeId(1), *log.at(Index(1)));
  c.on_apply(NodeId(1), log.at(Index(1))->entry, apply_entry(MachineState{}, entry(1, 1, "a")));
  const std::vector<LogSlot> removed = log.write({entry(1, 2, "b")});
  EXPECT_THROW(c.on_slots_removed(NodeId(1), removed, log, Term(2)), Violation);
}

TEST(Checker, ADeposedLeadersLateAppendMayCutACommittedEntryFromALaggingLog) {
  Checker c(raft::Configuration{});
  StoredLog log;
  log.write({entry(1, 1, "a")});
  c.on_log_slot(NodeId(1), *log.at(Index(1)));
  c.on_role(NodeId(1), raft::Role::kLeader, Term(3), log);  // committed under a term-3 leader
  c.on_apply(NodeId(1), log.at(Index(1))->entry, apply_entry(MachineState{}, entry(1, 1, "a")));
  StoredLog lagging;
  lagging.write({entry(1, 1, "a")});
  const std::vector<LogSlot> removed = lagging.write({entry(1, 2, "b")});  // from the term-2 leader
  EXPECT_NO_THROW(c.on_slots_removed(NodeId(2), removed, lagging, Term(2)));
  const std::vector<LogSlot> again = log.write({entry(1, 3, "c")});  // a term-3 leader may not
  EXPECT_THROW(c.on_slots_removed(NodeId(1), again, log, Term(3)), Violation);
}

TEST(Checker, AStaleReadFails) {
  Checker c(raft::Configuration{});
  const Entry a = entry(1, 1, "a");
  StoredLog log;
  log.write({a});
  c.on_log_slot(NodeId(1), *log.at(Index(1)));
  const MachineState after = apply_entry(MachineState{}, a);
  c.on_apply(NodeId(1), a, after);
  c.on_write_acked(Index(1));
  const ReadFence fence = c.read_fence();
  EXPECT_THROW(c.on_read_served(NodeId(2), 1, fence, Index(1), MachineState{}), Violation);
  EXPECT_NO_THROW(c.on_read_served(NodeId(1), 2, fence, Index(1), after));
}

TEST(Checker, DurableTermAndVoteDeltas) {
  Checker c(raft::Configuration{});
  const raft::HardState voted{Term(2), NodeId(1), Index(0)};
  EXPECT_THROW(c.on_durable_hard_state(NodeId(1), voted, {Term(1), NodeId(1), Index(0)}), Violation);
  EXPECT_THROW(c.on_durable_hard_state(NodeId(1), voted, {Term(2), NodeId(3), Index(0)}), Violation);
  EXPECT_NO_THROW(c.on_durable_hard_state(NodeId(1), voted, {Term(3), NodeId(3), Index(0)}));
}

}  // namespace
}  // namespace conclave::sim
