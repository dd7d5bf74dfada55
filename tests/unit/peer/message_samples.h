// Raft messages with every field set, and a field-by-field comparison, for
// the peer tests (raft::Message has no operator==: the core never needs one).
#pragma once

#include <gtest/gtest.h>

#include "sidecar/raft/message.h"

namespace conclave::peer::testing {

inline raft::Message full_message(raft::NodeId from, raft::NodeId to) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = raft::Term(7);
  m.prev_index = raft::Index(41);
  m.prev_term = raft::Term(6);
  m.entries = {{raft::Index(42), raft::Term(7), raft::EntryType::kNormal, std::string("a\0b", 3)},
               {raft::Index(43), raft::Term(7), raft::EntryType::kNoop, ""},
               {raft::Index(44), raft::Term(7), raft::EntryType::kConfig, "config bytes"}};
  m.commit = raft::Index(40);
  m.last_log_index = raft::Index(39);
  m.last_log_term = raft::Term(5);
  m.transfer = true;
  m.reject = true;
  m.match_index = raft::Index(38);
  m.hint_index = raft::Index(37);
  m.hint_term = raft::Term(4);
  m.context = 0xdeadbeefcafeULL;
  m.read_index = raft::Index(36);
  raft::SnapshotMeta meta;
  meta.index = raft::Index(30);
  meta.term = raft::Term(3);
  meta.config.voters = {raft::NodeId(1), raft::NodeId(2), raft::NodeId(3)};
  meta.config.learners = {raft::NodeId(9)};
  meta.config.addresses = {{raft::NodeId(1), "10.0.0.1:7000"}, {raft::NodeId(9), "[::1]:7009"}};
  m.snapshot = meta;
  return m;
}

inline void expect_same(const raft::Message& a, const raft::Message& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.term, b.term);
  EXPECT_EQ(a.prev_index, b.prev_index);
  EXPECT_EQ(a.prev_term, b.prev_term);
  EXPECT_EQ(a.entries, b.entries);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.last_log_index, b.last_log_index);
  EXPECT_EQ(a.last_log_term, b.last_log_term);
  EXPECT_EQ(a.transfer, b.transfer);
  EXPECT_EQ(a.reject, b.reject);
  EXPECT_EQ(a.match_index, b.match_index);
  EXPECT_EQ(a.hint_index, b.hint_index);
  EXPECT_EQ(a.hint_term, b.hint_term);
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.read_index, b.read_index);
  EXPECT_EQ(a.snapshot, b.snapshot);
}

}  // namespace conclave::peer::testing
