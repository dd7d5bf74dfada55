// Tests of the admin socket server (ipc/admin_server.h) against a scripted
// AdminService: requests and answers over real UNIX sockets, a malformed
// frame closing only its own connection, the socket file's mode, and the
// stale/live socket rules at start.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "ipc/admin_server.h"
#include "tests/unit/node/frame_client.h"
#include "schema/admin.capnp.h"

namespace conclave::ipc {
namespace {

using boost::asio::local::stream_protocol;
namespace admin = conclave::schema::admin;

// Answers status at once and holds proposals until release() is called.
class ScriptedService final : public AdminService {
 public:
  void admin_status(Reply reply) override {
    AdminReply r;
    StatusInfo s;
    s.node_id = 7;
    s.role = "leader";
    s.members.push_back(MemberInfo{7, "h:1", true});
    r.status = s;
    reply(r);
  }
  void admin_propose(std::string data, Reply reply) override {
    proposals.push_back(data);
    held.push_back(std::move(reply));
  }
  void admin_add_learner(std::uint64_t, std::string, Reply reply) override { reply(refuse()); }
  void admin_promote(std::uint64_t, Reply reply) override { reply(refuse()); }
  void admin_remove(std::uint64_t, Reply reply) override { reply(refuse()); }
  void admin_transfer_leader(std::uint64_t, Reply reply) override { reply(refuse()); }
  void admin_snapshot(Reply reply) override { reply(refuse()); }
  void admin_cluster_status(Reply reply) override { reply(refuse()); }
  void release(std::uint64_t index) {
    for (auto& r : held) {
      AdminReply a;
      a.committed = Committed{index++, 3};
      r(a);
    }
    held.clear();
  }
  static AdminReply refuse() {
    AdminReply r = AdminReply::failure(AdminError::kNotLeader, "ask node 2");
    r.leader_hint = 2;
    return r;
  }
  std::vector<std::string> proposals;
  std::vector<Reply> held;
};

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);
    dir_ = std::filesystem::temp_directory_path() / ("conclave-admin-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "admin.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<testing::FrameClient> connect() { return std::make_unique<testing::FrameClient>(io_, path_); }

  static void send(testing::FrameClient& c, const std::function<void(admin::Request::Builder)>& fill) {
    c.send<admin::Request>(fill);
  }
  static std::unique_ptr<framing::InboundFrame> receive(testing::FrameClient& c) { return c.receive(); }

  boost::asio::io_context io_;
  ScriptedService service_;
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(AdminServerTest, AnswersStatusAndProposalsWhenCommitted) {
  AdminServer server(io_, AdminServerOptions{path_}, service_);
  server.start();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto c = connect();
  send(*c, [](admin::Request::Builder r) {
    r.setId(41);
    r.setPropose(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("xy"), 2));
  });
  send(*c, [](admin::Request::Builder r) {
    r.setId(42);
    r.setStatus();
  });
  // The status comes back first: the proposal has not committed.
  auto status = receive(*c);
  ASSERT_TRUE(status);
  auto s = status->root<admin::Response>();
  EXPECT_EQ(s.getId(), 42u);
  ASSERT_TRUE(s.isStatus());
  EXPECT_EQ(s.getStatus().getNodeId(), 7u);
  EXPECT_EQ(s.getStatus().getMembers().size(), 1u);
  ASSERT_EQ(service_.proposals.size(), 1u);
  EXPECT_EQ(service_.proposals[0], "xy");

  service_.release(9);
  auto committed = receive(*c);
  ASSERT_TRUE(committed);
  auto p = committed->root<admin::Response>();
  EXPECT_EQ(p.getId(), 41u);
  EXPECT_EQ(p.getError(), admin::ErrorCode::NONE);
  ASSERT_TRUE(p.isCommitted());
  EXPECT_EQ(p.getCommitted().getIndex(), 9u);

  send(*c, [](admin::Request::Builder r) {
    r.setId(43);
    r.setRemove(5);
  });
  auto refused = receive(*c);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->root<admin::Response>().getError(), admin::ErrorCode::NOT_LEADER);
  EXPECT_EQ(refused->root<admin::Response>().getLeaderHint(), 2u);
}

TEST_F(AdminServerTest, AMalformedFrameClosesOnlyItsConnection) {
  AdminServer server(io_, AdminServerOptions{path_}, service_);
  server.start();
  auto good = connect();
  auto bad = connect();
  // A segment table claiming 100000 segments.
  const unsigned char garbage[8] = {0x9f, 0x86, 0x01, 0x00, 0, 0, 0, 0};
  bad->write_raw(garbage, sizeof garbage);
  auto error = receive(*bad);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->root<admin::Response>().getId(), 0u);
  EXPECT_EQ(error->root<admin::Response>().getError(), admin::ErrorCode::MALFORMED);
  // Then the server closes that connection.
  std::unique_ptr<framing::InboundFrame> after = receive(*bad);
  EXPECT_FALSE(after);

  send(*good, [](admin::Request::Builder r) {
    r.setId(1);
    r.setStatus();
  });
  auto status = receive(*good);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->root<admin::Response>().isStatus());
}

TEST_F(AdminServerTest, AStaleSocketIsReplacedAndALiveOneRefused) {
  {
    AdminServer first(io_, AdminServerOptions{path_}, service_);
    first.start();
    AdminServer second(io_, AdminServerOptions{path_}, service_);
    EXPECT_THROW(second.start(), std::runtime_error);
  }
  // A socket file whose server is gone.
  {
    stream_protocol::acceptor leftover(io_, stream_protocol::endpoint(path_));
  }
  ASSERT_TRUE(std::filesystem::exists(path_));
  AdminServer third(io_, AdminServerOptions{path_}, service_);
  EXPECT_NO_THROW(third.start());
  // A regular file at the path is never deleted.
  third.stop();
  std::ofstream(path_) << "not a socket";
  AdminServer fourth(io_, AdminServerOptions{path_}, service_);
  EXPECT_THROW(fourth.start(), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

}  // namespace
}  // namespace conclave::ipc
