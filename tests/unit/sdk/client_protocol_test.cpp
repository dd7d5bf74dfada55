// The real Client against a scripted sidecar on a real UNIX socket: what it
// sends (attach, proposals with session/seq/floor, snapshot chunks, applied
// notices) and what its handler sees, including across a lost connection.
#include <gtest/gtest.h>

#include <conclave/conclave.h>

#include <mutex>
#include <condition_variable>

#include "fake_sidecar.h"
#include "recording_handler.h"

namespace conclave::test {
namespace {

using Calls = std::vector<std::string>;
using namespace std::chrono_literals;

// Collects what the client reports through on_error.
struct Reports {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Error> errors;

  std::function<void(const Error&)> sink() {
    return [this](const Error& e) {
      std::lock_guard lock(mutex);
      errors.push_back(e);
      cv.notify_all();
    };
  }
  // Waits (bounded) for a report with `code`.
  std::optional<Error> wait_for(ErrorCode code) {
    std::unique_lock lock(mutex);
    std::optional<Error> found;
    cv.wait_for(lock, 20s, [&] {
      for (auto& e : errors) {
        if (e.code() == code) found = e;
      }
      return found.has_value();
    });
    return found;
  }
};

ClientOptions options_for(const FakeSidecar& sidecar, Reports* reports = nullptr) {
  ClientOptions o;
  o.socket_path = sidecar.path();
  o.name = "protocol-test";
  o.retry_delay_min = 1ms;
  o.retry_delay_max = 20ms;
  o.snapshot_chunk_bytes = 4;
  if (reports != nullptr) o.on_error = reports->sink();
  return o;
}

// A client attached to a fresh fake sidecar: where most tests start.
struct Attached {
  explicit Attached(std::uint64_t commit_index = 0) : client(handler, options_for(sidecar, &reports)) {
    sidecar.accept();
    sidecar.attach(commit_index);
  }
  FakeSidecar sidecar;
  RecordingHandler handler;
  Reports reports;
  Client client;
};

struct ProposalId {
  std::uint64_t session, seq;
};

// Reads the next message, which must be a proposal, and answers it
// committed at `index`.
ProposalId commit_next_proposal(FakeSidecar& sidecar, std::uint64_t index) {
  auto message = sidecar.read();
  auto m = sidecar.root(message);
  EXPECT_EQ(m.which(), app::ToSidecar::PROPOSE);
  sidecar.answer_committed(m.getId(), index);
  return ProposalId{m.getPropose().getSession(), m.getPropose().getSeq()};
}

// The Error a request ended with (the test fails if it succeeded).
Error error_of(std::future<Index>& future) {
  try {
    Index index = future.get();
    ADD_FAILURE() << "expected an Error, got index " << index;
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorCode::none, "no error");
}

TEST(ClientProtocol, AttachCarriesVersionNameAndAppliedIndex) {
  FakeSidecar sidecar;
  RecordingHandler h;
  ClientOptions o = options_for(sidecar);
  o.applied_index = 17;
  Client client(h, o);
  sidecar.accept();
  auto message = sidecar.read();
  auto m = sidecar.root(message);
  ASSERT_EQ(m.which(), app::ToSidecar::ATTACH);
  EXPECT_NE(m.getId(), 0u);
  EXPECT_EQ(m.getAttach().getVersion(), app::K_VERSION);
  EXPECT_EQ(std::string(m.getAttach().getName().cStr()), "protocol-test");
  EXPECT_EQ(m.getAttach().getAppliedIndex(), 17u);
  EXPECT_TRUE(m.getAttach().getBatches());
}

TEST(ClientProtocol, EntriesInOneFrameReachTheHandlerOneByOneInOrder) {
  Attached a(4);
  auto& [sidecar, h, reports, client] = a;
  sidecar.bootstrap();
  sidecar.entries(2, {{1, "a"}, {2, "b"}, {4, "c"}});
  sidecar.arrive(5, 2, "10.0.0.2:7000");
  sidecar.entries(2, {{6, "d"}});
  EXPECT_EQ(h.wait_calls(6), (Calls{"bootstrap", "entry 1 2 a", "entry 2 2 b", "entry 4 2 c",
                                    "arrive 5 2 10.0.0.2:7000", "entry 6 2 d"}));
  EXPECT_TRUE(client.wait_applied(6, 20s));
}

TEST(ClientProtocol, StreamReachesTheHandlerInOrderAndAppliedIsAcknowledged) {
  Attached a(3);
  auto& [sidecar, h, reports, client] = a;
  sidecar.bootstrap();
  sidecar.arrive(1, 1, "10.0.0.1:7000");
  sidecar.entry(2, 1, "a");
  sidecar.entry(3, 1, "b");
  sidecar.acclimated(3);
  EXPECT_EQ(h.wait_calls(5),
            (Calls{"bootstrap", "arrive 1 1 10.0.0.1:7000", "entry 2 1 a", "entry 3 1 b", "acclimated 3"}));
  EXPECT_TRUE(client.wait_applied(3, 20s));
  EXPECT_EQ(client.applied_index(), 3u);
  sidecar.wait_applied(3);
  EXPECT_EQ(sidecar.last_applied(), 3u);
}

TEST(ClientProtocol, ProposeIsAnsweredWithTheCommittedIndex) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  auto future = client.propose("hello");
  auto message = sidecar.read();
  auto m = sidecar.root(message);
  ASSERT_EQ(m.which(), app::ToSidecar::PROPOSE);
  EXPECT_NE(m.getPropose().getSession(), 0u);
  EXPECT_EQ(m.getPropose().getSeq(), 1u);
  EXPECT_EQ(m.getPropose().getFloor(), 1u);
  auto data = m.getPropose().getData();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.begin()), data.size()), "hello");
  sidecar.answer_committed(m.getId(), 9);
  EXPECT_EQ(future.get(), 9u);

  auto barrier = client.barrier();
  auto b = sidecar.read();
  ASSERT_EQ(sidecar.root(b).which(), app::ToSidecar::BARRIER);
  sidecar.answer_read_index(sidecar.root(b).getId(), 9);
  EXPECT_EQ(barrier.get(), 9u);
}

TEST(ClientProtocol, AnswersInOneFrameCompleteEachTheirRequest) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  std::vector<std::future<Index>> futures;
  for (int i = 0; i < 3; ++i) futures.push_back(client.propose("p" + std::to_string(i)));
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto message = sidecar.read();
    ids.push_back(sidecar.root(message).getId());
  }
  // Out of order, as a sidecar may answer.
  sidecar.answers_committed({{ids[2], 12}, {ids[0], 10}, {ids[1], 11}});
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(futures[i].get(), 10 + i);
}

TEST(ClientProtocol, OversizedProposalIsRefusedBeforeItReachesTheSidecar) {
  Attached a;
  auto future = a.client.propose(std::string(9u << 20, 'x'));
  EXPECT_EQ(error_of(future).code(), ErrorCode::rejected);
  auto fits = a.client.propose("small");  // the client carries on
  commit_next_proposal(a.sidecar, 2);
  EXPECT_EQ(fits.get(), 2u);
}

TEST(ClientProtocol, UnknownOutcomeIsRetriedWithTheSameSessionAndSeq) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  auto future = client.propose("once");
  auto first = sidecar.read();
  auto f = sidecar.root(first).getPropose();
  sidecar.answer_error(sidecar.root(first).getId(), app::ErrorCode::UNKNOWN, "leader lost");
  auto second = sidecar.read();
  ASSERT_EQ(sidecar.root(second).which(), app::ToSidecar::PROPOSE);
  auto s = sidecar.root(second).getPropose();
  EXPECT_EQ(s.getSession(), f.getSession());
  EXPECT_EQ(s.getSeq(), f.getSeq());
  EXPECT_EQ(s.getData(), f.getData());
  sidecar.answer_error(sidecar.root(second).getId(), app::ErrorCode::NO_LEADER, "election");
  EXPECT_EQ(commit_next_proposal(sidecar, 4).seq, f.getSeq());
  EXPECT_EQ(future.get(), 4u);
}

TEST(ClientProtocol, RefusedProposalFailsWithCodeAndReason) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  auto future = client.propose("x");
  auto m = sidecar.read();
  sidecar.answer_error(sidecar.root(m).getId(), app::ErrorCode::REJECTED, "too many pending proposals");
  Error e = error_of(future);
  EXPECT_EQ(e.code(), ErrorCode::rejected);
  EXPECT_EQ(e.reason(), "too many pending proposals");
}

TEST(ClientProtocol, JoinStreamsChunksAndSetsTheAppliedIndex) {
  Attached a(11);
  auto& [sidecar, h, reports, client] = a;
  sidecar.join(10, 6);
  sidecar.join_chunk(0, "abc", false);
  sidecar.join_chunk(3, "def", true);
  sidecar.entry(11, 2, "g");
  sidecar.acclimated(11);
  EXPECT_EQ(h.wait_calls(3), (Calls{"join 10 6 [abc][def]", "entry 11 2 g", "acclimated 11"}));
  EXPECT_EQ(h.state(), "abcdefg");
  EXPECT_TRUE(client.wait_applied(11, 20s));
}

TEST(ClientProtocol, SnapshotRequestIsAnsweredInChunksOfThatIndex) {
  Attached a;  // chunks of 4 bytes
  auto& [sidecar, h, reports, client] = a;
  sidecar.bootstrap();
  sidecar.entry(1, 1, "0123");
  sidecar.entry(2, 1, "456789");
  sidecar.snapshot_request(2);
  std::string state;
  std::uint64_t last_id = 0;
  for (int chunks = 0;; ++chunks) {
    ASSERT_LT(chunks, 10) << "the last chunk never came";
    auto message = sidecar.read();
    auto m = sidecar.root(message);
    ASSERT_EQ(m.which(), app::ToSidecar::SNAPSHOT_CHUNK);
    auto c = m.getSnapshotChunk();
    EXPECT_EQ(c.getIndex(), 2u);
    state.append(reinterpret_cast<const char*>(c.getData().begin()), c.getData().size());
    EXPECT_LE(c.getData().size(), 4u);
    if (c.getDone()) {
      last_id = m.getId();
      break;
    }
    EXPECT_EQ(m.getId(), 0u) << "chunks before the last are notices";
  }
  EXPECT_EQ(state, "0123456789");
  EXPECT_NE(last_id, 0u);
  sidecar.answer_ok(last_id);
  EXPECT_EQ(h.wait_calls(3).back(), "snapshot 2");
}

TEST(ClientProtocol, ASnapshotTheHandlerCannotWriteIsReportedFailedAndApplyingGoesOn) {
  struct FailingSnapshots : RecordingHandler {
    void snapshot(Index, SnapshotWriter& out) override {
      out.write("part");  // some chunks may already have gone
      throw std::runtime_error("no space for the temp file");
    }
  };
  FakeSidecar sidecar;
  FailingSnapshots h;
  Reports reports;
  Client client(h, options_for(sidecar, &reports));
  sidecar.accept();
  sidecar.attach(0);
  sidecar.bootstrap();
  sidecar.entry(1, 1, "a");
  sidecar.snapshot_request(1);
  std::uint64_t last_id = 0;
  std::string failed;
  for (int chunks = 0;; ++chunks) {
    ASSERT_LT(chunks, 10) << "the last chunk never came";
    auto message = sidecar.read();
    auto m = sidecar.root(message);
    ASSERT_EQ(m.which(), app::ToSidecar::SNAPSHOT_CHUNK);
    auto c = m.getSnapshotChunk();
    EXPECT_EQ(c.getIndex(), 1u);
    if (c.getDone()) {
      last_id = m.getId();
      failed = c.getFailed();
      break;
    }
  }
  EXPECT_NE(last_id, 0u) << "the last chunk is a request the sidecar answers";
  EXPECT_NE(failed.find("no space for the temp file"), std::string::npos) << failed;
  auto report = reports.wait_for(ErrorCode::snapshot_failed);
  ASSERT_TRUE(report);
  EXPECT_NE(report->reason().find("index 1"), std::string::npos) << report->reason();
  // The state is intact, so the stream goes on.
  sidecar.entry(2, 1, "b");
  EXPECT_EQ(h.wait_calls(3).back(), "entry 2 1 b");
  EXPECT_TRUE(client.wait_applied(2, 20s));
}

TEST(ClientProtocol, ReconnectsAndReattachesWithTheAppliedIndexAndResendsProposals) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  sidecar.bootstrap();
  sidecar.entry(1, 1, "a");
  sidecar.entry(2, 1, "b");
  h.wait_calls(3);
  auto future = client.propose("in flight");
  auto before = sidecar.read();
  auto seq = sidecar.root(before).getPropose().getSeq();
  auto session = sidecar.root(before).getPropose().getSession();

  sidecar.close_connection();  // the sidecar restarts
  EXPECT_TRUE(reports.wait_for(ErrorCode::disconnected));
  sidecar.accept();
  EXPECT_EQ(sidecar.attach(2), 2u);
  ProposalId after = commit_next_proposal(sidecar, 3);
  EXPECT_EQ(after.session, session);
  EXPECT_EQ(after.seq, seq);
  EXPECT_EQ(future.get(), 3u);
  sidecar.entry(3, 2, "in flight");
  EXPECT_EQ(h.wait_calls(4).back(), "entry 3 2 in flight");
}

TEST(ClientProtocol, InterruptedJoinReattachesFromNothing) {
  FakeSidecar sidecar;
  RecordingHandler h;
  ClientOptions o = options_for(sidecar);
  o.applied_index = 5;
  Client client(h, o);
  sidecar.accept();
  EXPECT_EQ(sidecar.attach(), 5u);
  sidecar.join(10, 6);
  sidecar.join_chunk(0, "abc", false);
  sidecar.close_connection();
  sidecar.accept();
  EXPECT_EQ(sidecar.attach(), 0u);
  sidecar.bootstrap();
  EXPECT_EQ(h.wait_calls(1), (Calls{"bootstrap"}));
}

TEST(ClientProtocol, ClosingSurfacesTheSidecarsReason) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  sidecar.closing(app::ErrorCode::SHUTTING_DOWN, "the sidecar is stopping (SIGTERM)");
  sidecar.close_connection();
  auto reported = reports.wait_for(ErrorCode::shutting_down);
  ASSERT_TRUE(reported);
  EXPECT_NE(reported->reason().find("the sidecar is stopping (SIGTERM)"), std::string::npos);
  sidecar.accept();  // and it comes back
  sidecar.attach();
}

TEST(ClientProtocol, ClosingIsReadEvenWhenTheSidecarLeftOurMessagesUnread) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  auto future = client.propose("never read by the sidecar");
  sidecar.closing(app::ErrorCode::SHUTTING_DOWN, "stopping with requests unread");
  sidecar.close_connection();
  auto reported = reports.wait_for(ErrorCode::shutting_down);
  ASSERT_TRUE(reported);
  EXPECT_NE(reported->reason().find("stopping with requests unread"), std::string::npos);
  sidecar.accept();  // the proposal goes again on the next connection
  sidecar.attach();
  commit_next_proposal(sidecar, 2);
  EXPECT_EQ(future.get(), 2u);
}

TEST(ClientProtocol, FatalClosingFailsPendingRequestsWithItsReason) {
  Attached a;
  auto& [sidecar, h, reports, client] = a;
  auto future = client.propose("x");
  sidecar.read();
  sidecar.closing(app::ErrorCode::MALFORMED, "frame of 9000000 bytes");
  Error e = error_of(future);
  EXPECT_EQ(e.code(), ErrorCode::malformed);
  EXPECT_NE(e.reason().find("frame of 9000000 bytes"), std::string::npos);
  // Later calls fail at once with the same error.
  auto later = client.propose("y");
  EXPECT_EQ(error_of(later).code(), ErrorCode::malformed);
}

TEST(ClientProtocol, ProposeFromACallbackDoesNotBlockTheStream) {
  struct Proposer : RecordingHandler {
    Client* client = nullptr;
    std::future<Index> proposed;
    void entry(Index index, Term term, std::string_view data) override {
      if (data == "trigger") proposed = client->propose("from callback");
      RecordingHandler::entry(index, term, data);
    }
  } h;
  FakeSidecar sidecar;
  Client client(h, options_for(sidecar));
  h.client = &client;
  sidecar.accept();
  sidecar.attach();
  sidecar.bootstrap();
  sidecar.entry(1, 1, "trigger");
  commit_next_proposal(sidecar, 2);
  sidecar.entry(2, 1, "from callback");
  EXPECT_EQ(h.wait_calls(3).back(), "entry 2 1 from callback");
  EXPECT_EQ(h.proposed.get(), 2u);
}

}  // namespace
}  // namespace conclave::test
