// The retry rules in isolation: a proposal keeps its session and seq across
// retries, floor is the lowest unanswered seq, deadlines fail requests.
#include <gtest/gtest.h>

#include <capnp/serialize.h>

#include "request_table.h"
#include "schema/app.capnp.h"

namespace conclave::detail {
namespace {

namespace app = conclave::schema::app;
using namespace std::chrono_literals;

struct Sent {
  std::uint64_t id, seq, floor;
};

Sent read_propose(const Frame& frame) {
  capnp::FlatArrayMessageReader reader(frame.asPtr());
  auto m = reader.getRoot<app::ToSidecar>();
  EXPECT_EQ(m.which(), app::ToSidecar::PROPOSE);
  EXPECT_EQ(m.getPropose().getSession(), 42u);
  return Sent{m.getId(), m.getPropose().getSeq(), m.getPropose().getFloor()};
}

Answer answer(std::uint64_t id, ErrorCode code, Index index = 0) {
  Answer a;
  a.id = id;
  a.code = code;
  a.kind = Answer::Kind::committed;
  a.index = index;
  return a;
}

struct Outcome {
  Index index = 0;
  std::optional<ErrorCode> error;
};

Request propose(Outcome& out, Clock::time_point deadline) {
  Request r;
  r.kind = Request::Kind::propose;
  r.data = "d";
  r.deadline = deadline;
  r.done = [&out](const Answer& a) { out.index = a.index; };
  r.fail = [&out](const Error& e) { out.error = e.code(); };
  return r;
}

TEST(RequestTable, UnknownIsRetriedWithTheSameSeqAfterBackoff) {
  RequestTable table(42, 10ms, 100ms);
  auto t0 = Clock::time_point{} + 1h;
  Outcome out;
  table.add(propose(out, t0 + 10s), t0);
  auto sent = table.take_ready(t0);
  ASSERT_EQ(sent.size(), 1u);
  Sent first = read_propose(sent[0]);
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(first.floor, 1u);

  table.answer(answer(first.id, ErrorCode::unknown), t0);
  EXPECT_TRUE(table.take_ready(t0).empty());  // not before the backoff
  EXPECT_EQ(table.next_due(true), t0 + 10ms);
  auto again = table.take_ready(t0 + 10ms);
  ASSERT_EQ(again.size(), 1u);
  Sent second = read_propose(again[0]);
  EXPECT_EQ(second.seq, 1u);
  EXPECT_NE(second.id, first.id);

  table.answer(answer(second.id, ErrorCode::none, 7), t0 + 11ms);
  EXPECT_EQ(out.index, 7u);
  EXPECT_EQ(table.size(), 0u);
}

TEST(RequestTable, FloorIsTheLowestUnansweredSeq) {
  RequestTable table(42, 10ms, 100ms);
  auto t0 = Clock::time_point{} + 1h;
  Outcome a, b, c;
  table.add(propose(a, t0 + 10s), t0);
  table.add(propose(b, t0 + 10s), t0);
  auto sent = table.take_ready(t0);
  ASSERT_EQ(sent.size(), 2u);
  table.answer(answer(read_propose(sent[0]).id, ErrorCode::none, 5), t0);
  EXPECT_EQ(table.floor(), 2u);
  table.answer(answer(read_propose(sent[1]).id, ErrorCode::none, 6), t0);
  EXPECT_EQ(table.floor(), 3u);
  table.add(propose(c, t0 + 10s), t0);
  Sent third = read_propose(table.take_ready(t0).at(0));
  EXPECT_EQ(third.seq, 3u);
  EXPECT_EQ(third.floor, 3u);
}

TEST(RequestTable, LostConnectionResendsAndDeadlineFails) {
  RequestTable table(42, 10ms, 100ms);
  auto t0 = Clock::time_point{} + 1h;
  Outcome out;
  table.add(propose(out, t0 + 1s), t0);
  Sent first = read_propose(table.take_ready(t0).at(0));
  table.connection_lost(t0);
  EXPECT_EQ(table.next_due(false), t0 + 1s);  // only the deadline while detached
  Sent second = read_propose(table.take_ready(t0).at(0));
  EXPECT_EQ(second.seq, first.seq);
  EXPECT_FALSE(table.answer(answer(first.id, ErrorCode::none, 3), t0));  // the old connection's id

  table.expire(t0 + 1s);
  EXPECT_EQ(out.error, ErrorCode::timeout);
  EXPECT_EQ(table.size(), 0u);
}

TEST(RequestTable, AnswersInAnyOrderLeaveTheOthersAndResendsGoOldestFirst) {
  RequestTable table(42, 10ms, 100ms);
  auto t0 = Clock::time_point{} + 1h;
  std::vector<Outcome> out(5);
  for (int i = 0; i < 4; ++i) table.add(propose(out[static_cast<std::size_t>(i)], t0 + 10s), t0);
  std::vector<Sent> sent;
  for (const auto& f : table.take_ready(t0)) sent.push_back(read_propose(f));
  ASSERT_EQ(sent.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(sent[i].seq, i + 1);

  EXPECT_TRUE(table.answer(answer(sent[1].id, ErrorCode::none, 11), t0));
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.floor(), 1u);
  EXPECT_TRUE(table.answer(answer(sent[0].id, ErrorCode::none, 10), t0));
  EXPECT_EQ(table.floor(), 3u);
  EXPECT_EQ(out[0].index, 10u);
  EXPECT_EQ(out[1].index, 11u);

  // One more, not sent before the connection goes: the resend is seqs 3,
  // 4, 5 in that order, under new ids.
  table.add(propose(out[4], t0 + 10s), t0);
  table.connection_lost(t0);
  std::vector<Sent> again;
  for (const auto& f : table.take_ready(t0)) again.push_back(read_propose(f));
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].seq, 3u);
  EXPECT_EQ(again[1].seq, 4u);
  EXPECT_EQ(again[2].seq, 5u);
  EXPECT_FALSE(table.answer(answer(sent[2].id, ErrorCode::none, 12), t0));  // the old connection's id
  EXPECT_TRUE(table.answer(answer(again[1].id, ErrorCode::none, 13), t0));

  EXPECT_EQ(table.next_due(true), t0 + 10s);
  table.expire(t0 + 10s);
  EXPECT_EQ(out[2].error, ErrorCode::timeout);
  EXPECT_EQ(out[3].index, 13u);
  EXPECT_FALSE(out[3].error);
  EXPECT_EQ(out[4].error, ErrorCode::timeout);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.next_due(true), std::nullopt);
}

TEST(RequestTable, RefusalFailsWithTheSidecarsReason) {
  RequestTable table(42, 10ms, 100ms);
  auto t0 = Clock::time_point{} + 1h;
  std::optional<Error> failed;
  Request r;
  r.kind = Request::Kind::barrier;
  r.deadline = t0 + 1s;
  r.done = [](const Answer&) {};
  r.fail = [&](const Error& e) { failed = e; };
  table.add(std::move(r), t0);
  auto frames = table.take_ready(t0);
  capnp::FlatArrayMessageReader reader(frames.at(0).asPtr());
  Answer a = answer(reader.getRoot<app::ToSidecar>().getId(), ErrorCode::rejected);
  a.reason = "too many pending requests";
  table.answer(a, t0);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code(), ErrorCode::rejected);
  EXPECT_EQ(failed->reason(), "too many pending requests");
}

}  // namespace
}  // namespace conclave::detail
