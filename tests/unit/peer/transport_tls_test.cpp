// Peer TLS on loopback: two Transports with certificates from
// scripts/make-test-certs (made once per run into a temporary directory with
// the openssl command; the tests skip, saying why, when it is missing).
// Messages flow under mutual TLS; a peer with no certificate, one from
// another CA, an expired one or one naming another node is refused before
// any Raft message is read, with the reason in the log.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "tests/unit/peer/transport_harness.h"

namespace conclave::peer::testing {
namespace {

namespace asio = boost::asio;
using raft::NodeId;

class PeerTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      skip_reason_ =
          "the openssl command is missing (apt-get install openssl); peer TLS tests skipped";
      return;
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("conclave-peer-tls-" + std::to_string(::getpid()));
    const std::string command = std::string(CONCLAVE_SOURCE_DIR) + "/scripts/make-test-certs '" +
                                dir_.string() + "' " + kCluster +
                                " 1 2 3 --expired 2 --other-ca 2 >/dev/null";
    if (std::system(command.c_str()) != 0) {
      skip_reason_ = "scripts/make-test-certs failed: " + command;
    }
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }

  static std::string file(const std::string& name) { return (dir_ / name).string(); }
  // Options for node `id` presenting the certificate `prefix`.pem (e.g.
  // "node-2", "expired-node-2"), trusting the cluster CA.
  static TransportOptions tls_options(std::uint64_t id, const std::string& prefix) {
    TransportOptions o = options_for(id);
    o.tls_ca_file = file("ca.pem");
    o.tls_cert_file = file(prefix + ".pem");
    o.tls_key_file = file(prefix + ".key");
    return o;
  }
  static TransportOptions tls_options(std::uint64_t id) {
    return tls_options(id, "node-" + std::to_string(id));
  }

  // Node 2 (with `options2`) sends to node 1 (a proper TLS node) until node 1's
  // log shows `expected`; checks that node 1 received no Raft message.
  static void expect_refused_by_node_1(TransportOptions options2, const std::string& expected,
                                       LogCapture& log) {
    asio::io_context io;
    TransportOptions options1 = tls_options(1);
    // A plaintext dialer and a TLS acceptor each wait for the other to speak.
    options1.idle_timeout = std::chrono::milliseconds(300);
    TestNode n1(io, options1);
    TestNode n2(io, std::move(options2));
    introduce({&n1, &n2});
    const bool seen = run_until(
        io, [&] { return log.contains(expected); },
        [&] { n2.transport->send(heartbeat(NodeId(2), NodeId(1))); }, std::chrono::seconds(20));
    EXPECT_TRUE(seen) << "expected in the log: " << expected << "\nlog:\n" << log.text();
    EXPECT_TRUE(n1.recorder.raft.empty());
  }

  static inline std::filesystem::path dir_;
  static inline std::string skip_reason_;
};

TEST_F(PeerTls, MessagesFlowBothWaysUnderMutualTls) {
  LogCapture log;
  asio::io_context io;
  TestNode n1(io, tls_options(1));
  TestNode n2(io, tls_options(2));
  introduce({&n1, &n2});
  ASSERT_TRUE(run_until(
      io, [&] { return !n1.recorder.raft.empty() && !n2.recorder.raft.empty(); },
      [&] {
        n1.transport->send(heartbeat(NodeId(1), NodeId(2), 7));
        n2.transport->send(heartbeat(NodeId(2), NodeId(1), 8));
      }))
      << log.text();
  EXPECT_EQ(n1.recorder.raft.front().from, NodeId(2));
  EXPECT_EQ(n1.recorder.raft.front().context, 8u);
  EXPECT_EQ(n2.recorder.raft.front().context, 7u);
  EXPECT_TRUE(log.contains("mutual TLS")) << log.text();
  EXPECT_FALSE(log.contains("TLS handshake failed")) << log.text();
}

TEST_F(PeerTls, APlaintextPeerIsRefused) {
  LogCapture log;
  expect_refused_by_node_1(options_for(2), "TLS handshake failed: none within 300 ms", log);
  // A plain TCP client that speaks first (its bytes are not a TLS hello).
  asio::io_context io;
  TestNode n1(io, tls_options(1));
  asio::ip::tcp::socket client(io);
  client.connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), n1.transport->listen_port()));
  const std::string junk(64, 'x');
  asio::write(client, asio::buffer(junk));
  EXPECT_TRUE(run_until(
      io, [&] { return log.contains("TLS handshake failed: wrong version number"); }, {},
      std::chrono::seconds(20)))
      << log.text();
  EXPECT_TRUE(n1.recorder.raft.empty());
}

TEST_F(PeerTls, ATlsClientWithoutACertificateIsRefused) {
  LogCapture log;
  asio::io_context io;
  TestNode n1(io, tls_options(1));
  asio::ssl::context client_tls(asio::ssl::context::tls);
  client_tls.load_verify_file(file("ca.pem"));
  client_tls.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> client(io, client_tls);
  client.next_layer().connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), n1.transport->listen_port()));
  client.async_handshake(asio::ssl::stream_base::client, [](boost::system::error_code) {});
  ASSERT_TRUE(run_until(
      io, [&] { return log.contains("TLS handshake failed"); }, {}, std::chrono::seconds(20)))
      << log.text();
  EXPECT_TRUE(log.contains("peer did not return a certificate")) << log.text();
  EXPECT_TRUE(n1.recorder.raft.empty());
}

TEST_F(PeerTls, ACertificateFromAnotherCaIsRefused) {
  LogCapture log;
  expect_refused_by_node_1(tls_options(2, "other-node-2"), "unable to get local issuer certificate",
                           log);
}

TEST_F(PeerTls, AnExpiredCertificateIsRefused) {
  LogCapture log;
  expect_refused_by_node_1(tls_options(2, "expired-node-2"), "certificate has expired", log);
}

TEST_F(PeerTls, ACertificateNamingAnotherNodeIsRefusedByBothSides) {
  LogCapture log;
  // Node 2 presents node 3's certificate (valid, same CA).
  expect_refused_by_node_1(tls_options(2, "node-3"),
                           "it claims to be node 2 but its certificate (/CN=node-3.test-cluster) "
                           "does not name node-2.test-cluster",
                           log);
  // And node 1 dialing "node 2" refuses the acceptor's certificate.
  asio::io_context io;
  TestNode n1(io, tls_options(1));
  TestNode n2(io, tls_options(2, "node-3"));
  introduce({&n1, &n2});
  EXPECT_TRUE(run_until(
      io, [&] { return log.contains("says it is node 2 but its certificate"); },
      [&] { n1.transport->send(heartbeat(NodeId(1), NodeId(2))); }, std::chrono::seconds(20)))
      << log.text();
  EXPECT_TRUE(n2.recorder.raft.empty());
}

TEST_F(PeerTls, UnusableFilesAreRefusedAtStartNamingTheFile) {
  asio::io_context io;
  TransportOptions o = tls_options(1);
  o.tls_key_file = file("node-2.key");  // not node 1's certificate's key
  Recorder recorder;
  Transport mismatched(io, o, recorder);
  try {
    mismatched.start();
    ADD_FAILURE() << "a key of another certificate was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("node-2.key"), std::string::npos) << e.what();
  }
  o = tls_options(1);
  o.tls_ca_file = file("no-such-ca.pem");
  Transport missing(io, o, recorder);
  try {
    missing.start();
    ADD_FAILURE() << "a missing CA file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-ca.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace conclave::peer::testing
