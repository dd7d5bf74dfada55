// Tests of the application socket server (ipc/app_server.h) against a
// scripted AppService, over real UNIX sockets: the attach handshake and its
// version check, requests answered by id, stream events encoded in order,
// notices vs requests, protocol violations closing only their own session
// with a `closing` the application can read, credentials checked at accept,
// and the socket's mode.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "ipc/app_server.h"
#include "schema/app.capnp.h"
#include "tests/unit/node/frame_client.h"

namespace conclave::ipc {
namespace {

namespace app = conclave::schema::app;

class ScriptedService final : public AppService {
 public:
  void app_attach(const std::shared_ptr<AppStream>& stream, AttachRequest request, AppReplyFn reply) override {
    attached = request;
    stream_ = stream;
    AppAnswer a;
    a.result = AppAttached{7, "c", 2, 40};
    reply(a);
    stream->send(event::Bootstrap{});
  }
  void app_propose(const std::shared_ptr<AppStream>&, ProposeRequest request, AppReplyFn reply) override {
    proposals.push_back(request);
    AppAnswer a;
    a.result = AppCommitted{100 + proposals.size(), 3};
    reply(a);
  }
  void app_barrier(const std::shared_ptr<AppStream>&, AppReplyFn reply) override {
    reply(AppAnswer::failure(AppError::kNoLeader, "no leader"));
  }
  void app_status(const std::shared_ptr<AppStream>&, AppReplyFn reply) override {
    AppAnswer a;
    AppStatus s;
    s.node_id = 7;
    a.result = s;
    reply(a);
  }
  void app_applied(const std::shared_ptr<AppStream>&, std::uint64_t index) override { applied = index; }
  void app_snapshot_chunk(const std::shared_ptr<AppStream>&, std::uint64_t index, std::string data, bool done,
                          std::optional<AppReplyFn> reply) override {
    chunks.push_back(data);
    EXPECT_EQ(index, 55u);
    EXPECT_EQ(done, reply.has_value());
    if (reply) (*reply)(AppAnswer{});
  }
  void app_snapshot_failed(const std::shared_ptr<AppStream>&, std::uint64_t, std::string reason,
                           AppReplyFn reply) override {
    failed_snapshot = reason;
    reply(AppAnswer{});
  }
  void app_writable(const std::shared_ptr<AppStream>&) override {}
  void app_detached(const std::shared_ptr<AppStream>&) override { ++detached; }

  std::optional<AttachRequest> attached;
  std::shared_ptr<AppStream> stream_;
  std::vector<ProposeRequest> proposals;
  std::uint64_t applied = 0;
  std::vector<std::string> chunks;
  std::string failed_snapshot;
  int detached = 0;
};

capnp::Data::Reader bytes(const char* s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s), std::strlen(s));
}

class AppServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::err);
    dir_ = std::filesystem::temp_directory_path() / ("conclave-app-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    options_.path = (dir_ / "app.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<testing::FrameClient> connect() { return std::make_unique<testing::FrameClient>(io_, options_.path); }
  static void send(testing::FrameClient& c, const std::function<void(app::ToSidecar::Builder)>& fill) {
    c.send<app::ToSidecar>(fill);
  }
  static void attach(testing::FrameClient& c, std::uint32_t version = app::K_VERSION, bool batches = false) {
    send(c, [version, batches](app::ToSidecar::Builder m) {
      m.setId(1);
      auto a = m.initAttach();
      a.setVersion(version);
      a.setName("test app");
      a.setAppliedIndex(12);
      if (batches) a.setBatches(true);
    });
  }
  // The next frame must be a `closing` (then the connection ends); returns its reason.
  static std::string expect_closing(testing::FrameClient& c, app::ErrorCode code) {
    auto f = c.receive();
    if (!f) {
      ADD_FAILURE() << "no closing message";
      return {};
    }
    auto m = f->root<app::FromSidecar>();
    EXPECT_TRUE(m.isClosing());
    if (!m.isClosing()) return {};
    EXPECT_EQ(m.getClosing().getError(), code);
    std::string reason = m.getClosing().getReason();
    EXPECT_FALSE(c.receive()) << "the connection should end after closing";
    return reason;
  }

  boost::asio::io_context io_;
  ScriptedService service_;
  AppServerOptions options_;
  std::filesystem::path dir_;
};

TEST_F(AppServerTest, AttachThenRequestsAnsweredByIdAndTheStreamInOrder) {
  AppServer server(io_, options_, service_);
  server.start();
  struct stat st {};
  ASSERT_EQ(::stat(options_.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto c = connect();
  attach(*c);
  auto answer = c->receive();
  ASSERT_TRUE(answer);
  auto a = answer->root<app::FromSidecar>();
  ASSERT_TRUE(a.isAnswer());
  EXPECT_EQ(a.getAnswer().getId(), 1u);
  ASSERT_TRUE(a.getAnswer().isAttached());
  EXPECT_EQ(a.getAnswer().getAttached().getNodeId(), 7u);
  EXPECT_EQ(a.getAnswer().getAttached().getVersion(), app::K_VERSION);
  EXPECT_EQ(a.getAnswer().getAttached().getCommitIndex(), 40u);
  ASSERT_TRUE(service_.attached);
  EXPECT_EQ(service_.attached->name, "test app");
  EXPECT_EQ(service_.attached->applied_index, 12u);
  auto boot = c->receive();
  ASSERT_TRUE(boot);
  EXPECT_TRUE(boot->root<app::FromSidecar>().isBootstrap());

  send(*c, [](app::ToSidecar::Builder m) {
    m.setId(9);
    auto p = m.initPropose();
    p.setSession(5);
    p.setSeq(2);
    p.setFloor(1);
    p.setData(bytes("hello"));
  });
  auto committed = c->receive();
  ASSERT_TRUE(committed);
  auto ca = committed->root<app::FromSidecar>().getAnswer();
  EXPECT_EQ(ca.getId(), 9u);
  ASSERT_TRUE(ca.isCommitted());
  EXPECT_EQ(ca.getCommitted().getIndex(), 101u);
  ASSERT_EQ(service_.proposals.size(), 1u);
  EXPECT_EQ(service_.proposals[0].data, "hello");
  EXPECT_EQ(service_.proposals[0].session, 5u);
  EXPECT_EQ(service_.proposals[0].seq, 2u);

  // The node's events reach the application in the order sent.
  const EntryView hello{101, 3, "hello", 5, 2};
  service_.stream_->send_entries({&hello, 1});
  service_.stream_->send(event::Arrive{AppMember{102, 4, "h:4"}});
  service_.stream_->send(event::Acclimated{102});
  service_.stream_->send(event::SnapshotRequest{55});
  auto e = c->receive();
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->root<app::FromSidecar>().isEntry());
  EXPECT_EQ(e->root<app::FromSidecar>().getEntry().getIndex(), 101u);
  EXPECT_EQ(e->root<app::FromSidecar>().getEntry().getSession(), 5u);
  auto ar = c->receive();
  ASSERT_TRUE(ar && ar->root<app::FromSidecar>().isArrive());
  EXPECT_EQ(ar->root<app::FromSidecar>().getArrive().getNode(), 4u);
  auto ac = c->receive();
  ASSERT_TRUE(ac && ac->root<app::FromSidecar>().isAcclimated());
  auto sr = c->receive();
  ASSERT_TRUE(sr && sr->root<app::FromSidecar>().isSnapshot());
  EXPECT_EQ(sr->root<app::FromSidecar>().getSnapshot().getIndex(), 55u);

  // Notices are not answered; the last snapshot chunk is.
  send(*c, [](app::ToSidecar::Builder m) { m.setApplied(101); });
  send(*c, [](app::ToSidecar::Builder m) {
    auto s = m.initSnapshotChunk();
    s.setIndex(55);
    s.setData(bytes("ab"));
  });
  send(*c, [](app::ToSidecar::Builder m) {
    m.setId(10);
    auto s = m.initSnapshotChunk();
    s.setIndex(55);
    s.setData(bytes("cd"));
    s.setDone(true);
  });
  auto stored = c->receive();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->root<app::FromSidecar>().getAnswer().getId(), 10u);
  EXPECT_EQ(stored->root<app::FromSidecar>().getAnswer().getError(), app::ErrorCode::NONE);
  EXPECT_EQ(service_.applied, 101u);
  EXPECT_EQ(service_.chunks, (std::vector<std::string>{"ab", "cd"}));

  // An application that cannot produce a snapshot says why.
  send(*c, [](app::ToSidecar::Builder m) {
    m.setId(12);
    auto s = m.initSnapshotChunk();
    s.setIndex(56);
    s.setDone(true);
    s.setFailed("out of memory");
  });
  auto abandoned = c->receive();
  ASSERT_TRUE(abandoned);
  EXPECT_EQ(abandoned->root<app::FromSidecar>().getAnswer().getId(), 12u);
  EXPECT_EQ(service_.failed_snapshot, "out of memory");

  send(*c, [](app::ToSidecar::Builder m) {
    m.setId(11);
    m.setBarrier();
  });
  auto barrier = c->receive();
  ASSERT_TRUE(barrier);
  EXPECT_EQ(barrier->root<app::FromSidecar>().getAnswer().getError(), app::ErrorCode::NO_LEADER);
  EXPECT_EQ(std::string(barrier->root<app::FromSidecar>().getAnswer().getReason()), "no leader");
}

TEST_F(AppServerTest, EntriesGoInOneFrameOnlyToAnApplicationThatAskedForBatches) {
  AppServer server(io_, options_, service_);
  server.start();
  const std::string data(5000, 'x');  // past the first segment of a small frame
  const std::vector<EntryView> entries{{101, 3, "a", 5, 1}, {102, 3, data, 5, 2}, {104, 4, "", 0, 0}};
  for (bool batches : {false, true}) {
    SCOPED_TRACE(batches ? "with batches" : "without");
    auto c = connect();
    attach(*c, app::K_VERSION, batches);
    ASSERT_TRUE(c->receive());  // the answer
    ASSERT_TRUE(c->receive());  // bootstrap
    service_.stream_->send_entries(entries);
    service_.stream_->send(event::Acclimated{104});

    std::vector<EntryView> seen;
    std::vector<std::unique_ptr<framing::InboundFrame>> frames;
    auto keep = [&](app::Entry::Reader e) {
      auto d = e.getData();
      seen.push_back(EntryView{e.getIndex(), e.getTerm(), std::string_view(reinterpret_cast<const char*>(d.begin()),
                                                                             d.size()),
                               e.getSession(), e.getSeq()});
    };
    for (std::size_t frame = 0; seen.size() < entries.size(); ++frame) {
      ASSERT_LT(frame, batches ? 1u : entries.size()) << "more frames than expected";
      frames.push_back(c->receive());
      ASSERT_TRUE(frames.back());
      auto m = frames.back()->root<app::FromSidecar>();
      if (batches) {
        ASSERT_TRUE(m.isEntries());
        for (auto e : m.getEntries()) keep(e);
      } else {
        ASSERT_TRUE(m.isEntry());
        keep(m.getEntry());
      }
    }
    ASSERT_EQ(seen.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(seen[i].index, entries[i].index);
      EXPECT_EQ(seen[i].term, entries[i].term);
      EXPECT_EQ(seen[i].data, entries[i].data);
      EXPECT_EQ(seen[i].session, entries[i].session);
      EXPECT_EQ(seen[i].seq, entries[i].seq);
    }
    auto after = c->receive();
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->root<app::FromSidecar>().isAcclimated());
  }
}

// Answers made while a write runs wait for the next one: to an application
// that reads lists they go as one `answers` frame; alone, or to one that
// does not, as single answers.
TEST_F(AppServerTest, AnswersGatherDuringAWriteOnlyForAnApplicationThatAskedForBatches) {
  AppServer server(io_, options_, service_);
  server.start();
  for (bool batches : {false, true}) {
    SCOPED_TRACE(batches ? "with batches" : "without");
    auto c = connect();
    attach(*c, app::K_VERSION, batches);
    auto attached = c->receive();
    ASSERT_TRUE(attached);
    ASSERT_TRUE(attached->root<app::FromSidecar>().isAnswer()) << "the attach answer comes alone";
    ASSERT_TRUE(c->receive());  // bootstrap
    // Ten proposals in the socket before the server reads: it handles them
    // in one read, and answers each at once (ScriptedService).
    for (std::uint64_t id = 20; id < 30; ++id) {
      send(*c, [id](app::ToSidecar::Builder m) {
        m.setId(id);
        auto p = m.initPropose();
        p.setData(bytes("x"));
      });
    }
    std::vector<std::uint64_t> ids;
    std::size_t frames = 0;
    while (ids.size() < 10) {
      auto f = c->receive();
      ASSERT_TRUE(f);
      ++frames;
      auto m = f->root<app::FromSidecar>();
      if (m.isAnswers()) {
        ASSERT_TRUE(batches);
        for (auto a : m.getAnswers()) {
          EXPECT_TRUE(a.isCommitted());
          ids.push_back(a.getId());
        }
      } else {
        ASSERT_TRUE(m.isAnswer());
        ids.push_back(m.getAnswer().getId());
      }
    }
    for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(ids[i], 20 + i);
    if (batches) {
      EXPECT_LT(frames, 10u);
    } else {
      EXPECT_EQ(frames, 10u);
    }
  }
}

TEST_F(AppServerTest, ProtocolViolationsCloseOnlyTheirSessionWithAReason) {
  AppServer server(io_, options_, service_);
  server.start();
  auto good = connect();
  attach(*good);
  ASSERT_TRUE(good->receive());  // attached
  ASSERT_TRUE(good->receive());  // bootstrap

  auto before_attach = connect();
  send(*before_attach, [](app::ToSidecar::Builder m) {
    m.setId(3);
    m.setStatus();
  });
  EXPECT_NE(expect_closing(*before_attach, app::ErrorCode::MALFORMED).find("attach"), std::string::npos);

  auto garbage = connect();
  const unsigned char bad[8] = {0x9f, 0x86, 0x01, 0x00, 0, 0, 0, 0};
  garbage->write_raw(bad, sizeof bad);
  expect_closing(*garbage, app::ErrorCode::MALFORMED);

  auto old = connect();
  attach(*old, 999);
  auto refusal = old->receive();
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->root<app::FromSidecar>().getAnswer().getError(), app::ErrorCode::VERSION);
  EXPECT_FALSE(old->receive());

  auto no_id = connect();
  attach(*no_id);
  ASSERT_TRUE(no_id->receive());
  ASSERT_TRUE(no_id->receive());
  send(*no_id, [](app::ToSidecar::Builder m) { m.setBarrier(); });
  EXPECT_NE(expect_closing(*no_id, app::ErrorCode::MALFORMED).find("non-zero id"), std::string::npos);
  EXPECT_EQ(service_.detached, 1) << "an attached session that closes is detached from the node";

  // The well-behaved application is still served.
  send(*good, [](app::ToSidecar::Builder m) {
    m.setId(5);
    m.setStatus();
  });
  auto status = good->receive();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->root<app::FromSidecar>().getAnswer().getStatus().getNodeId(), 7u);
}

TEST_F(AppServerTest, TheSocketTakesTheConfiguredModeAndGroup) {
  // A group this process may give files to: its own, or any when root.
  const gid_t group = ::geteuid() == 0 ? ::getegid() + 4242 : ::getegid();
  options_.mode = 0600;
  options_.group = group;
  AppServer server(io_, options_, service_);
  server.start();
  struct stat st {};
  ASSERT_EQ(::stat(options_.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_gid, group);
}

TEST_F(AppServerTest, AProcessWhoseUidIsNotAllowedIsRefusedBeforeAttaching) {
  // Nobody's uid: the test process is not on the list.
  options_.allowed_uids = {::geteuid() + 12345};
  AppServer server(io_, options_, service_);
  server.start();
  auto c = connect();
  std::string reason = expect_closing(*c, app::ErrorCode::FORBIDDEN);
  EXPECT_NE(reason.find("uid " + std::to_string(::geteuid())), std::string::npos) << reason;
  EXPECT_FALSE(service_.attached);

  options_.allowed_uids = {::geteuid()};
  options_.path = (dir_ / "app2.sock").string();
  AppServer allowed(io_, options_, service_);
  allowed.start();
  auto d = connect();
  attach(*d);
  auto answer = d->receive();
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->root<app::FromSidecar>().getAnswer().isAttached());
}

}  // namespace
}  // namespace conclave::ipc
