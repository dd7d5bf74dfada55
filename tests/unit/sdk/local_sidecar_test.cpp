// The test double drives a handler as the real stream does: bootstrap, the
// founding arrive at index 1, entries in order, acclimated, snapshots on
// demand, and a join of a new handler from the snapshot it took.
#include <gtest/gtest.h>

#include <conclave/testing.h>

#include "recording_handler.h"

namespace conclave::test {
namespace {

using Calls = std::vector<std::string>;

TEST(LocalSidecar, FreshHandlerBootstrapsAndSeesTheFoundingArrival) {
  testing::LocalSidecar sidecar;
  RecordingHandler h;
  EXPECT_EQ(sidecar.attach(h), 1u);
  EXPECT_EQ(h.calls(), (Calls{"bootstrap", "arrive 1 1 127.0.0.1:7000", "acclimated 1"}));
}

TEST(LocalSidecar, EntriesReachEveryAttachedHandlerInOrder) {
  testing::LocalSidecar sidecar;
  RecordingHandler a;
  sidecar.attach(a);
  EXPECT_EQ(sidecar.propose("x"), 2u);
  RecordingHandler b;
  sidecar.attach(b);  // replays 1..2
  EXPECT_EQ(sidecar.add_member(2, "10.0.0.2:7000"), 3u);
  EXPECT_EQ(sidecar.propose("y"), 4u);
  EXPECT_EQ(sidecar.remove_member(2), 5u);
  EXPECT_EQ(a.calls(), (Calls{"bootstrap", "arrive 1 1 127.0.0.1:7000", "acclimated 1", "entry 2 1 x",
                              "arrive 3 2 10.0.0.2:7000", "entry 4 1 y", "depart 5 2 10.0.0.2:7000"}));
  EXPECT_EQ(b.calls(), (Calls{"bootstrap", "arrive 1 1 127.0.0.1:7000", "entry 2 1 x", "acclimated 2",
                              "arrive 3 2 10.0.0.2:7000", "entry 4 1 y", "depart 5 2 10.0.0.2:7000"}));
  EXPECT_EQ(a.state(), b.state());
}

TEST(LocalSidecar, NewHandlerJoinsFromTheSnapshotInChunksThenFollows) {
  testing::LocalSidecar sidecar;
  RecordingHandler a;
  sidecar.attach(a);
  sidecar.propose("hello");
  sidecar.propose("world");
  EXPECT_EQ(sidecar.snapshot(a), 3u);
  EXPECT_EQ(sidecar.snapshot_bytes(), "helloworld");
  sidecar.propose("!");

  RecordingHandler b;
  EXPECT_EQ(sidecar.attach(b), 4u);
  EXPECT_EQ(b.calls(), (Calls{"join 3 10 [hellowo][rld]", "entry 4 1 !", "acclimated 4"}));
  sidecar.propose("?");
  EXPECT_EQ(a.state(), "helloworld!?");
  EXPECT_EQ(b.state(), a.state());
}

TEST(LocalSidecar, HandlerWithStateResumesAfterItsAppliedIndex) {
  testing::LocalSidecar sidecar;
  sidecar.propose("a");
  sidecar.propose("b");
  RecordingHandler h;
  sidecar.attach(h, 2);
  EXPECT_EQ(h.calls(), (Calls{"entry 3 1 b", "acclimated 3"}));
}

TEST(LocalSidecar, SnapshotWithoutCompactionStillBootstrapsNewcomers) {
  testing::LocalSidecar sidecar;
  RecordingHandler a;
  sidecar.attach(a);
  sidecar.propose("a");
  sidecar.snapshot(a, /*compact=*/false);
  RecordingHandler b;
  sidecar.attach(b);
  EXPECT_EQ(b.calls().front(), "bootstrap");
  EXPECT_EQ(b.state(), "a");
}

}  // namespace
}  // namespace conclave::test
