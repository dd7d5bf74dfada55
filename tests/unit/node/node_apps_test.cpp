// Tests of the node's side of the application API, below the socket: the
// stream an attached application receives (bootstrap, arrivals, entries in
// order, acclimated), exactly-once delivery of retried proposals, snapshots
// produced by the application compacting the log, a later application (on
// this node or a new one) joining from that snapshot with the same state,
// and re-attaching with an applied index.
#include <gtest/gtest.h>

#include <filesystem>
#include <spdlog/spdlog.h>

#include "sidecar/node/app_entry.h"
#include "tests/unit/node/fake_app.h"
#include "tests/unit/node/node_cluster.h"

namespace conclave::node {
namespace {

using raft::NodeId;
using testing::AppState;
using testing::Cluster;
using testing::FakeApp;

struct Box {
  bool done = false;
  ipc::AppAnswer answer;
};

std::shared_ptr<Box> app_propose(Node& node, const std::shared_ptr<FakeApp>& app, std::uint64_t session,
                                 std::uint64_t seq, std::uint64_t floor, std::string data) {
  auto box = std::make_shared<Box>();
  node.app_propose(app, ipc::ProposeRequest{session, seq, floor, std::move(data)}, [box](ipc::AppAnswer a) {
    box->done = true;
    box->answer = std::move(a);
  });
  return box;
}

bool all_done(const std::vector<std::shared_ptr<Box>>& boxes) {
  for (const auto& b : boxes) {
    if (!b->done) return false;
  }
  return true;
}

std::uint64_t committed_index(const Box& b) { return std::get<ipc::AppCommitted>(b.answer.result).index; }

class NodeAppsTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }

  // A solo node that has elected itself.
  Node& solo(Cluster& cluster, std::uint64_t snapshot_entries = 0) {
    NodeConfig c = cluster.config(1);
    c.solo = true;
    c.snapshot_entries = snapshot_entries;
    Node& n = cluster.add(c);
    EXPECT_TRUE(cluster.run_until([&] { return n.status().role == raft::Role::kLeader; }));
    return n;
  }

  // An application attached to `node` with no state.
  std::shared_ptr<FakeApp> attached(Cluster& cluster, Node& node, const std::string& name) {
    auto app = std::make_shared<FakeApp>(cluster.io(), node, name);
    app->attach(0);
    return app;
  }

  // Proposes data 0..count-1 from `app` in one session and waits for all.
  void propose_many(Cluster& cluster, Node& node, const std::shared_ptr<FakeApp>& app, std::uint64_t session,
                    int from, int count) {
    std::vector<std::shared_ptr<Box>> boxes;
    for (int i = from; i < from + count; ++i) {
      boxes.push_back(app_propose(node, app, session, static_cast<std::uint64_t>(i + 1), 1, "e" + std::to_string(i)));
    }
    ASSERT_TRUE(cluster.run_until([&] { return all_done(boxes); }));
    for (const auto& b : boxes) ASSERT_EQ(b->answer.error, ipc::AppError::kNone) << b->answer.reason;
  }
};

TEST_F(NodeAppsTest, AnApplicationSeesBootstrapItsArrivalEntriesInOrderAndAcclimated) {
  Cluster cluster("stream");
  Node& node = solo(cluster);
  auto app = attached(cluster, node, "a");
  ASSERT_TRUE(app->attach_answer.has_value());
  ASSERT_EQ(app->attach_answer->error, ipc::AppError::kNone);
  EXPECT_EQ(std::get<ipc::AppAttached>(app->attach_answer->result).node_id, 1u);
  ASSERT_TRUE(cluster.run_until([&] { return app->acclimated; }));
  ASSERT_TRUE(app->bootstrapped);
  ASSERT_FALSE(app->events.empty());
  EXPECT_TRUE(std::holds_alternative<ipc::event::Bootstrap>(app->events.front()));
  EXPECT_EQ(app->state.members, (std::set<std::uint64_t>{1}));

  propose_many(cluster, node, app, 77, 0, 10);
  // A conclavectl entry (no session) is delivered too.
  bool admin_done = false;
  node.admin_propose("from the admin", [&](ipc::AdminReply) { admin_done = true; });
  ASSERT_TRUE(cluster.run_until([&] { return admin_done && app->state.entries.size() == 11; }));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(app->state.entries[static_cast<std::size_t>(i)], "e" + std::to_string(i));
  EXPECT_EQ(app->state.entries.back(), "from the admin");
  const auto* last = std::get_if<FakeApp::Entry>(&app->events.back());
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->session, 0u);
  app->detach();
}

TEST_F(NodeAppsTest, AReplayGoesOutInRunsOfEntriesThatMembershipChangesSplit) {
  Cluster cluster("runs");
  Node& node = solo(cluster);
  auto a = attached(cluster, node, "a");
  propose_many(cluster, node, a, 77, 0, 5);
  bool added = false;
  node.admin_add_learner(2, "127.0.0.1:1", [&](ipc::AdminReply r) { added = r.error == ipc::AdminError::kNone; });
  ASSERT_TRUE(cluster.run_until([&] { return added; }));
  propose_many(cluster, node, a, 77, 5, 5);

  // A new application replays all of it from the log.
  auto b = attached(cluster, node, "b");
  ASSERT_TRUE(cluster.run_until([&] { return b->acclimated; }));
  EXPECT_EQ(b->batches, (std::vector<std::size_t>{5, 5}));
  std::vector<std::string> kinds;
  for (const auto& e : b->events) {
    kinds.push_back(std::visit(
        [](const auto& v) -> std::string {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, FakeApp::Entry>) return v.data;
          if constexpr (std::is_same_v<T, ipc::event::Arrive>) return "arrive " + std::to_string(v.member.node);
          if constexpr (std::is_same_v<T, ipc::event::Bootstrap>) return "bootstrap";
          return "other";
        },
        e));
  }
  while (!kinds.empty() && kinds.back() == "other") kinds.pop_back();  // passed, acclimated
  EXPECT_EQ(kinds, (std::vector<std::string>{"bootstrap", "arrive 1", "e0", "e1", "e2", "e3", "e4", "arrive 2", "e5",
                                             "e6", "e7", "e8", "e9"}));
  EXPECT_EQ(b->state, a->state);
  a->detach();
  b->detach();
}

TEST_F(NodeAppsTest, ARetriedProposalIsDeliveredOnceAndOneBelowTheFloorNotAtAll) {
  Cluster cluster("dedup");
  Node& node = solo(cluster);
  auto app = attached(cluster, node, "a");
  auto first = app_propose(node, app, 5, 1, 1, "once");
  auto retry = app_propose(node, app, 5, 1, 1, "once");
  auto second = app_propose(node, app, 5, 2, 1, "two");
  // The client promised never to retry below 3; a stale seq 2 retry is dropped.
  auto third = app_propose(node, app, 5, 3, 3, "three");
  auto stale = app_propose(node, app, 5, 2, 2, "two");
  auto other_session = app_propose(node, app, 6, 1, 1, "once");
  std::vector<std::shared_ptr<Box>> all{first, retry, second, third, stale, other_session};
  ASSERT_TRUE(cluster.run_until([&] { return all_done(all); }));
  for (const auto& b : all) ASSERT_EQ(b->answer.error, ipc::AppError::kNone) << b->answer.reason;
  // Every copy commits (each answer names where), but the stream carries
  // each (session, seq) once.
  EXPECT_LT(committed_index(*first), committed_index(*retry));
  ASSERT_TRUE(cluster.run_until([&] { return app->applied >= committed_index(*other_session); }));
  EXPECT_EQ(app->state.entries, (std::vector<std::string>{"once", "two", "three", "once"}));

  // A duplicate at the very end of the log still moves the application's
  // applied index (with `passed`), or a barrier there would never be reached.
  auto last_retry = app_propose(node, app, 6, 1, 1, "once");
  ASSERT_TRUE(cluster.run_until([&] { return last_retry->done; }));
  ASSERT_TRUE(cluster.run_until([&] { return app->applied >= committed_index(*last_retry); }));
  EXPECT_EQ(app->state.entries.size(), 4u);
  app->detach();
}

TEST_F(NodeAppsTest, SnapshotsComeFromTheApplicationAndALaterApplicationJoinsWithTheSameState) {
  Cluster cluster("snap");
  cluster.segment_bytes_max = 256;
  Node& node = solo(cluster, 8);
  auto first = attached(cluster, node, "first");
  propose_many(cluster, node, first, 9, 0, 40);
  ASSERT_TRUE(cluster.run_until([&] { return node.snapshot_index().value() > 20; }));
  EXPECT_GT(first->snapshots_given, 0u);
  // A retry of an entry the snapshot covers is still recognised: the
  // session filter travels in the snapshot.
  auto retry = app_propose(node, first, 9, 3, 1, "e2");
  auto tail = app_propose(node, first, 9, 41, 1, "tail");
  ASSERT_TRUE(cluster.run_until([&] { return retry->done && tail->done; }));
  ASSERT_LT(committed_index(*retry), committed_index(*tail));

  auto later = attached(cluster, node, "later");
  ASSERT_TRUE(cluster.run_until([&] { return later->acclimated && later->applied >= committed_index(*tail); }));
  EXPECT_EQ(later->joins, 1u) << "the log no longer starts at 1: the application must join";
  EXPECT_FALSE(later->bootstrapped);
  ASSERT_TRUE(cluster.run_until([&] { return first->applied >= committed_index(*tail); }));
  ASSERT_EQ(first->state.entries.size(), 41u) << "the retry was delivered again";
  EXPECT_EQ(first->state.entries.back(), "tail");
  EXPECT_EQ(later->state, first->state);
  first->detach();
  later->detach();
}

TEST_F(NodeAppsTest, OlderSnapshotsAreDeletedAndTwoStay) {
  Cluster cluster("prune");
  Node& node = solo(cluster, 8);
  auto app = attached(cluster, node, "app");
  for (int round = 0; round < 4; ++round) {
    const auto before = node.snapshot_index();
    propose_many(cluster, node, app, 1, round * 10, 10);
    ASSERT_TRUE(cluster.run_until([&] { return node.snapshot_index() > before; })) << "round " << round;
  }
  const std::filesystem::path dir = std::filesystem::path(cluster.config(1).data_dir) / "snapshots";
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    return out;
  };
  // Deleted off the loop: wait for it.
  EXPECT_TRUE(cluster.run_until([&] { return names().size() == 2; })) << ::testing::PrintToString(names());
  for (const auto& name : names()) EXPECT_EQ(name.rfind("snapshot-", 0), 0u) << name;
  app->detach();
}

TEST_F(NodeAppsTest, ASnapshotRequestThatFailsOrTimesOutIsMadeAgainLater) {
  Cluster cluster("snapfail");
  NodeConfig c = cluster.config(1);
  c.solo = true;
  c.snapshot_entries = 5;
  c.snapshot_timeout_ms = 100;  // 20 ticks
  Node& node = cluster.add(c);
  ASSERT_TRUE(cluster.run_until([&] { return node.status().role == raft::Role::kLeader; }));
  auto failing = std::make_shared<FakeApp>(cluster.io(), node, "failing");
  failing->on_snapshot = FakeApp::OnSnapshot::kFail;
  failing->attach(0);
  propose_many(cluster, node, failing, 1, 0, 10);
  ASSERT_TRUE(cluster.run_until([&] { return failing->snapshots_asked >= 2; })) << "asked again after a failure";
  EXPECT_EQ(node.snapshot_index().value(), 0u) << "nothing is stored from a failed snapshot";
  failing->detach();

  auto silent = std::make_shared<FakeApp>(cluster.io(), node, "silent");
  silent->on_snapshot = FakeApp::OnSnapshot::kIgnore;
  silent->attach(0);
  ASSERT_TRUE(cluster.run_until([&] { return silent->snapshots_asked >= 2; })) << "asked again after the timeout";
  EXPECT_EQ(node.snapshot_index().value(), 0u);

  auto good = attached(cluster, node, "good");
  silent->detach();
  ASSERT_TRUE(cluster.run_until([&] { return node.snapshot_index().value() > 0; }));
  EXPECT_GT(good->snapshots_given, 0u);
  good->detach();
}

TEST_F(NodeAppsTest, CommitsGoOnWhileASnapshotIsBeingMadeDurable) {
  // The snapshot's fsync covers the application's whole state: the loop
  // must not wait for it.
  Cluster cluster("snapsync");
  NodeConfig c = cluster.config(1);
  c.solo = true;
  c.no_fsync = false;
  c.snapshot_entries = 8;
  Node& node = cluster.add(c);
  ASSERT_TRUE(cluster.run_until([&] { return node.status().role == raft::Role::kLeader; }));
  storage::testing::FaultPlan& disk = *cluster.member(1).faults;
  disk.hold_syncs_of = "/snapshots/";
  disk.hold_syncs = true;
  auto app = attached(cluster, node, "app");
  propose_many(cluster, node, app, 1, 0, 10);
  ASSERT_TRUE(cluster.run_until([&] { return disk.syncs_held_now.load() > 0; })) << "no snapshot was stored";

  propose_many(cluster, node, app, 1, 10, 5);
  EXPECT_GT(disk.syncs_held_now.load(), 0) << "the proposals waited for the snapshot's fsync";
  EXPECT_EQ(node.snapshot_index().value(), 0u) << "the snapshot counted before it was durable";

  disk.hold_syncs = false;
  ASSERT_TRUE(cluster.run_until([&] { return node.snapshot_index().value() > 0; }));
  EXPECT_GT(app->snapshots_given, 0u);
  app->detach();
}

TEST_F(NodeAppsTest, AnApplicationOnANodeThatJoinedThroughASnapshotGetsTheSameState) {
  Cluster cluster("newnode");
  Node& one = solo(cluster, 5);
  auto app1 = attached(cluster, one, "one");
  propose_many(cluster, one, app1, 3, 0, 30);
  ASSERT_TRUE(cluster.run_until([&] { return one.snapshot_index().value() > 10; }));

  NodeConfig joiner = cluster.config(2);
  joiner.join = Cluster::address(1);
  Node& two = cluster.add(joiner);
  ASSERT_TRUE(cluster.run_until([&] { return two.status().config.is_voter(NodeId(2)); }));
  propose_many(cluster, one, app1, 3, 30, 5);
  auto app2 = attached(cluster, two, "two");
  ASSERT_TRUE(cluster.run_until([&] { return app2->state.entries.size() == 35 && app1->state.entries.size() == 35; }));
  EXPECT_EQ(app2->joins, 1u);
  EXPECT_EQ(app2->state, app1->state);
  EXPECT_EQ(app2->state.members, (std::set<std::uint64_t>{1, 2}));
  app1->detach();
  app2->detach();
}

TEST_F(NodeAppsTest, ReattachingWithAnAppliedIndexResumesRightAfterIt) {
  Cluster cluster("resume");
  Node& node = solo(cluster);
  auto app = attached(cluster, node, "a");
  propose_many(cluster, node, app, 4, 0, 5);
  ASSERT_TRUE(cluster.run_until([&] { return app->state.entries.size() == 5; }));
  const std::uint64_t applied = app->applied;
  const AppState before = app->state;
  app->detach();
  // Proposals while it is away, from another session.
  auto other = attached(cluster, node, "b");
  propose_many(cluster, node, other, 8, 0, 3);
  other->detach();

  auto back = std::make_shared<FakeApp>(cluster.io(), node, "a again");
  back->state = before;
  back->applied = applied;
  back->attach(applied);
  ASSERT_TRUE(cluster.run_until([&] { return back->acclimated && back->state.entries.size() == 8; }));
  EXPECT_FALSE(back->bootstrapped);
  EXPECT_EQ(back->joins, 0u);
  EXPECT_EQ(back->state.entries.back(), "e2");
  back->detach();
}

TEST_F(NodeAppsTest, AStalledApplicationIsNotFedAndDoesNotHoldUpTheOthers) {
  Cluster cluster("stalled");
  Node& node = solo(cluster);
  auto slow = attached(cluster, node, "slow");
  auto fast = attached(cluster, node, "fast");
  ASSERT_TRUE(cluster.run_until([&] { return slow->acclimated && fast->acclimated; }));
  slow->stalled = true;
  const std::size_t slow_events = slow->events.size();
  propose_many(cluster, node, fast, 1, 0, 200);
  ASSERT_TRUE(cluster.run_until([&] { return fast->state.entries.size() == 200; }));
  EXPECT_EQ(slow->events.size(), slow_events) << "the node kept queueing for an application that reads nothing";

  // It reads again: it catches up from the log, in order.
  slow->stalled = false;
  node.app_writable(slow);
  ASSERT_TRUE(cluster.run_until([&] { return slow->state.entries.size() == 200; }));
  EXPECT_EQ(slow->state, fast->state);
  slow->detach();
  fast->detach();
}

// A stalled application holds the log back, but only so far: one further
// than application_lag_max behind a new snapshot is detached with a reason,
// the log is compacted past it, and when it attaches again it catches up
// to the others' state.
TEST_F(NodeAppsTest, AnApplicationTooFarBehindASnapshotIsDetachedAndCatchesUpWhenItComesBack) {
  Cluster cluster("lagging");
  NodeConfig c = cluster.config(1);
  c.solo = true;
  c.snapshot_entries = 5;
  c.application_lag_max = 20;
  Node& node = cluster.add(c);
  ASSERT_TRUE(cluster.run_until([&] { return node.status().role == raft::Role::kLeader; }));
  auto fast = attached(cluster, node, "fast");
  auto slow = attached(cluster, node, "slow");
  ASSERT_TRUE(cluster.run_until([&] { return slow->acclimated && fast->acclimated; }));
  slow->stalled = true;
  slow->on_snapshot = FakeApp::OnSnapshot::kIgnore;  // as a stopped one would
  const std::uint64_t slow_asked = slow->snapshots_asked;
  const std::uint64_t slow_at = slow->applied;

  // Behind, but within the bound: the log keeps what it has to read.
  propose_many(cluster, node, fast, 1, 0, 10);
  ASSERT_TRUE(cluster.run_until([&] { return node.snapshot_index().value() > slow_at; }));
  EXPECT_FALSE(slow->closed());
  EXPECT_LE(node.status().snapshot_index.value(), slow_at) << "compacted past what an application has to read";
  EXPECT_EQ(slow->snapshots_asked, slow_asked) << "a snapshot was asked of the application furthest behind";

  propose_many(cluster, node, fast, 1, 10, 50);
  ASSERT_TRUE(cluster.run_until([&] { return slow->closed(); })) << "never detached";
  EXPECT_EQ(slow->close_code, ipc::AppError::kRejected);
  EXPECT_NE(slow->close_reason.find("application_lag_max"), std::string::npos) << slow->close_reason;
  MetricsRegistry scrape;
  node.collect(scrape);
  EXPECT_NE(scrape.render().find("conclave_applications_detached_lagging_total 1\n"), std::string::npos)
      << scrape.render();
  slow->detach();  // the session ends, as a real one does after `closing`
  ASSERT_TRUE(cluster.run_until([&] { return node.status().snapshot_index.value() > slow_at; }))
      << "the log is still held for the detached application";

  // It comes back with the state it had: from the log if the segments
  // still hold its position (the files go whole), else by a join.
  auto back = std::make_shared<FakeApp>(cluster.io(), node, "slow, again");
  back->state = slow->state;
  back->applied = slow_at;
  back->attach(slow_at);
  ASSERT_TRUE(cluster.run_until([&] { return back->acclimated; }));
  EXPECT_EQ(back->state, fast->state);
  back->detach();
  fast->detach();
}

TEST_F(NodeAppsTest, ABarrierAnswersAtLeastTheIndexOfWhatWasCommittedBeforeIt) {
  Cluster cluster("barrier");
  Node& node = solo(cluster);
  auto app = attached(cluster, node, "a");
  auto p = app_propose(node, app, 2, 1, 1, "x");
  ASSERT_TRUE(cluster.run_until([&] { return p->done; }));
  auto box = std::make_shared<Box>();
  node.app_barrier(app, [box](ipc::AppAnswer a) {
    box->done = true;
    box->answer = std::move(a);
  });
  ASSERT_TRUE(cluster.run_until([&] { return box->done; }));
  ASSERT_EQ(box->answer.error, ipc::AppError::kNone) << box->answer.reason;
  EXPECT_GE(std::get<std::uint64_t>(box->answer.result), committed_index(*p));
  app->detach();
}

TEST(AppEntry, RoundTripsAndRefusesWhatIsNotAnEnvelope) {
  std::string e = encode_app_entry(300, 1ull << 40, 7, std::string("da\0ta", 5));
  auto d = decode_app_entry(e);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->session, 300u);
  EXPECT_EQ(d->seq, 1ull << 40);
  EXPECT_EQ(d->floor, 7u);
  EXPECT_EQ(d->data, std::string_view("da\0ta", 5));
  EXPECT_FALSE(decode_app_entry("").has_value());
  EXPECT_FALSE(decode_app_entry("plain").has_value());
  EXPECT_FALSE(decode_app_entry(e.substr(0, 2)).has_value()) << "a truncated varint";
}

}  // namespace
}  // namespace conclave::node
