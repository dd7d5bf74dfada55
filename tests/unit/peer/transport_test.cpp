// Transports on loopback: Raft messages between three nodes, refused
// handshakes with their reasons, garbage and oversized frames that close one
// connection only, reconnecting after a restart, and a bounded send queue.
#include "sidecar/peer/transport.h"

#include <atomic>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <kj/io.h>

#include "sidecar/peer/frames.h"
#include "tests/unit/peer/message_samples.h"
#include "tests/unit/peer/transport_harness.h"

namespace conclave::peer {
namespace {

namespace asio = boost::asio;
using raft::NodeId;
using namespace testing;

TEST(PeerTransport, ThreeNodesExchangeRaftMessagesWithEveryField) {
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2)), c(io, options_for(3));
  introduce({&a, &b, &c});
  std::vector<TestNode*> nodes{&a, &b, &c};
  for (TestNode* from : nodes) {
    for (TestNode* to : nodes) {
      if (from != to) from->transport->send(full_message(from->id(), to->id()));
    }
  }
  ASSERT_TRUE(run_until(io, [&] {
    return a.recorder.raft.size() == 2 && b.recorder.raft.size() == 2 && c.recorder.raft.size() == 2;
  }));
  for (TestNode* to : nodes) {
    for (const raft::Message& got : to->recorder.raft) {
      EXPECT_EQ(got.to, to->id());
      expect_same(full_message(got.from, to->id()), got);
    }
  }
  EXPECT_EQ(a.counters_for(NodeId(2)).frames_sent, 1u);
  EXPECT_TRUE(a.counters_for(NodeId(2)).connected);
  EXPECT_EQ(b.counters_for(NodeId(1)).frames_received, 1u);
  EXPECT_GT(b.counters_for(NodeId(1)).bytes_received, 0u);
}

TEST(PeerTransport, ManyMessagesArriveInOrder) {
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  constexpr int kMessages = 2000;
  for (int i = 0; i < kMessages; ++i) a.transport->send(heartbeat(a.id(), b.id(), i));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == kMessages; }));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(b.recorder.raft[i].context, std::uint64_t(i));
  // Batching: far fewer writes than frames is not observable here, but every
  // frame counted as sent arrived.
  EXPECT_EQ(a.counters_for(b.id()).frames_sent, std::uint64_t(kMessages));
}

// Dials b from a node configured by `tweak`, and returns the dialer's
// last_error once the handshake has failed.
std::string refusal_seen(const std::function<void(TransportOptions&, Recorder&)>& tweak,
                         LogCapture& log) {
  asio::io_context io;
  TransportOptions oa = options_for(1);
  TestNode b(io, options_for(2));
  b.recorder.members = {NodeId(1), NodeId(2)};
  tweak(oa, b.recorder);
  TestNode a(io, oa);
  a.transport->set_peer_addresses({{b.id(), b.address()}});
  a.transport->send(heartbeat(a.id(), b.id()));
  EXPECT_TRUE(run_until(io, [&] { return !a.counters_for(b.id()).last_error.empty(); }));
  EXPECT_TRUE(b.recorder.raft.empty());
  EXPECT_FALSE(a.counters_for(b.id()).connected);
  EXPECT_TRUE(log.contains("node 2: refused connection from")) << log.text();
  return a.counters_for(b.id()).last_error;
}

TEST(PeerTransport, HelloFromAnotherClusterIsRefusedWithTheReason) {
  LogCapture log;
  auto why = refusal_seen([](TransportOptions& o, Recorder&) { o.cluster_id = "other-cluster"; }, log);
  EXPECT_NE(why.find("refused: cluster id 'other-cluster' does not match"), std::string::npos) << why;
}

TEST(PeerTransport, HelloFromAnUnknownNodeIsRefusedWithTheReason) {
  LogCapture log;
  auto why = refusal_seen([](TransportOptions&, Recorder& r) { r.members = {NodeId(2)}; }, log);
  EXPECT_NE(why.find("node 1 is not a member"), std::string::npos) << why;
}

TEST(PeerTransport, HelloWithTheWrongSecretIsRefusedWithTheReason) {
  LogCapture log;
  auto why = refusal_seen([](TransportOptions& o, Recorder&) { o.cluster_secret = "guess"; }, log);
  EXPECT_NE(why.find("wrong cluster secret proof"), std::string::npos) << why;
  auto none = refusal_seen([](TransportOptions& o, Recorder&) { o.cluster_secret.clear(); }, log);
  EXPECT_NE(none.find("wrong cluster secret proof"), std::string::npos) << none;
}

TEST(PeerTransport, ADialerRefusesAnAcceptorThatCannotProveTheSecret) {
  LogCapture log;
  asio::io_context io;
  TransportOptions ob = options_for(2);
  ob.cluster_secret.clear();  // b checks nothing and proves nothing
  TestNode a(io, options_for(1)), b(io, ob);
  introduce({&a, &b});
  a.transport->send(heartbeat(a.id(), b.id()));
  ASSERT_TRUE(run_until(io, [&] { return !a.counters_for(b.id()).last_error.empty(); }));
  EXPECT_NE(a.counters_for(b.id()).last_error.find("could not prove it knows the cluster secret"),
            std::string::npos)
      << a.counters_for(b.id()).last_error;
  EXPECT_TRUE(b.recorder.raft.empty());
  // b, with no secret, may still dial a (a checks b's proof, which is empty:
  // refused), so without a shared secret nothing flows either way.
  b.transport->send(heartbeat(b.id(), a.id()));
  ASSERT_TRUE(run_until(io, [&] { return !b.counters_for(a.id()).last_error.empty(); }));
  EXPECT_NE(b.counters_for(a.id()).last_error.find("wrong cluster secret proof"), std::string::npos);
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// Connects a raw socket to `node`, writes `bytes`, and runs until the node
// closes the connection (the read ends); returns whether it did.
bool node_hangs_up_on(asio::io_context& io, const TestNode& node, const std::string& bytes) {
  asio::ip::tcp::socket raw(io);
  raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                      node.transport->listen_port()));
  asio::write(raw, asio::buffer(bytes));
  bool closed = false;
  auto sink = std::make_shared<std::array<char, 4096>>();
  std::function<void()> drain = [&] {
    raw.async_read_some(asio::buffer(*sink), [&, sink](boost::system::error_code ec, std::size_t) {
      if (ec) {
        closed = true;
      } else {
        drain();
      }
    });
  };
  drain();
  return run_until(io, [&] { return closed; });
}

TEST(PeerTransport, GarbageAndOversizedFramesCloseOnlyThatConnection) {
  LogCapture log;
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  a.transport->send(heartbeat(a.id(), b.id(), 1));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 1; }));

  // Far more segments than allowed, then a 32 GiB length prefix, then a
  // plausible table over junk.
  EXPECT_TRUE(node_hangs_up_on(io, b, le32(0x7fffffff) + le32(1)));
  EXPECT_TRUE(node_hangs_up_on(io, b, le32(0) + le32(0xffffffffu)));
  EXPECT_TRUE(node_hangs_up_on(io, b, le32(0) + le32(3) + std::string(24, '\xee')));
  EXPECT_TRUE(log.contains("exceeds the limit")) << log.text();
  EXPECT_TRUE(log.contains("segments")) << log.text();

  // The established connection carries on.
  a.transport->send(heartbeat(a.id(), b.id(), 2));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 2; }));
  EXPECT_EQ(b.recorder.raft[1].context, 2u);
  EXPECT_EQ(a.counters_for(b.id()).frames_dropped, 0u);
}

TEST(PeerTransport, AConnectionThatSaysNothingIsClosedAfterTheIdleTimeout) {
  LogCapture log;
  asio::io_context io;
  TransportOptions ob = options_for(2);
  ob.idle_timeout = std::chrono::milliseconds(200);
  TestNode b(io, ob);
  EXPECT_TRUE(node_hangs_up_on(io, b, ""));
  EXPECT_TRUE(log.contains("nothing received for 200 ms")) << log.text();
}

TEST(PeerTransport, AnAddressServingAnotherNodeIsRefusedByTheDialer) {
  LogCapture log;
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  b.recorder.members.insert(NodeId(3));
  // The configuration says node 3 listens where node 2 does.
  a.transport->set_peer_addresses({{b.id(), b.address()}, {NodeId(3), b.address()}});
  a.transport->send(heartbeat(a.id(), NodeId(3)));
  ASSERT_TRUE(run_until(io, [&] { return !a.counters_for(NodeId(3)).last_error.empty(); }));
  EXPECT_NE(a.counters_for(NodeId(3)).last_error.find("is node 2, not 3"), std::string::npos)
      << a.counters_for(NodeId(3)).last_error;
  EXPECT_TRUE(b.recorder.raft.empty());
}

// A hand-driven dialer on its own thread (blocking capnp I/O on the socket's
// descriptor), for frames the Transport API would never send.
struct RawDialer {
  // Says hello as `id` with the right secret, then sends `frame`, then reads
  // until the acceptor closes; returns the frame types it received.
  static std::vector<unsigned> run(std::uint16_t port, std::uint64_t id,
                                   const kj::Array<capnp::word>& frame, bool joining = false) {
    asio::io_context cio;
    asio::ip::tcp::socket s(cio);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    kj::FdInputStream in(s.native_handle());
    kj::FdOutputStream out(s.native_handle());
    std::vector<unsigned> got;
    capnp::InputStreamMessageReader challenge(in);
    auto c = challenge.getRoot<schema::peer::Frame>();
    got.push_back(c.which());
    auto nonce = c.getChallenge().getNonce();
    TransportOptions o = options_for(id);
    auto hello = hello_frame(o, "127.0.0.1:1", std::string(reinterpret_cast<const char*>(nonce.begin()), nonce.size()), "dialer nonce", joining);
    out.write(hello.begin(), hello.size() * sizeof(capnp::word));
    out.write(frame.begin(), frame.size() * sizeof(capnp::word));
    try {
      for (;;) {
        capnp::InputStreamMessageReader reply(in);
        got.push_back(reply.getRoot<schema::peer::Frame>().which());
      }
    } catch (const kj::Exception&) {
      // The acceptor closed the connection: what we wait for.
    }
    return got;
  }
};

TEST(PeerTransport, ARaftMessageNotFromTheHelloSenderClosesTheConnection) {
  LogCapture log;
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  b.recorder.members.insert(NodeId(3));
  const auto forged = raft_frame(heartbeat(NodeId(3), b.id()));  // hello says 1, message says 3
  std::vector<unsigned> got;
  std::atomic<bool> finished = false;
  std::thread dialer([&] {
    got = RawDialer::run(b.transport->listen_port(), 1, forged);
    finished = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return finished.load(); }));
  dialer.join();
  EXPECT_EQ(got, (std::vector<unsigned>{schema::peer::Frame::CHALLENGE, schema::peer::Frame::WELCOME}));
  EXPECT_TRUE(b.recorder.raft.empty());
  EXPECT_TRUE(log.contains("Raft message from 3 to 2 on the connection of node 1 to node 2"))
      << log.text();

  // A message to someone else is refused the same way; a good one still works.
  finished = false;
  const auto misaddressed = raft_frame(heartbeat(NodeId(1), NodeId(3)));
  std::thread dialer2([&] {
    got = RawDialer::run(b.transport->listen_port(), 1, misaddressed);
    finished = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return finished.load(); }));
  dialer2.join();
  EXPECT_TRUE(b.recorder.raft.empty());
  // (The raw dialer's hello as node 1 replaced a's connection; a redials.)
  ASSERT_TRUE(run_until(io, [&] { return !b.recorder.raft.empty(); },
                        [&] { a.transport->send(heartbeat(a.id(), b.id(), 5)); }));
  EXPECT_EQ(b.recorder.raft.front().context, 5u);
}

TEST(PeerTransport, AJoiningConnectionMaySendOnlyJoinRequests) {
  LogCapture log;
  asio::io_context io;
  TestNode b(io, options_for(2));
  b.recorder.members = {NodeId(2)};
  std::vector<unsigned> got;
  std::atomic<bool> finished = false;
  const auto frame = raft_frame(heartbeat(NodeId(7), b.id()));
  std::thread dialer([&] {
    got = RawDialer::run(b.transport->listen_port(), 7, frame, /*joining=*/true);
    finished = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return finished.load(); }));
  dialer.join();
  // Admitted (welcome) although not a member, then closed at the Raft frame.
  EXPECT_EQ(got, (std::vector<unsigned>{schema::peer::Frame::CHALLENGE, schema::peer::Frame::WELCOME}));
  EXPECT_TRUE(b.recorder.raft.empty());
  EXPECT_TRUE(log.contains("a joining node may send only join requests")) << log.text();
}

TEST(PeerTransport, ReconnectsAfterThePeerRestarts) {
  asio::io_context io;
  TestNode a(io, options_for(1));
  auto b = std::make_unique<TestNode>(io, options_for(2));
  introduce({&a, b.get()});
  a.transport->send(heartbeat(a.id(), b->id(), 1));
  ASSERT_TRUE(run_until(io, [&] { return b->recorder.raft.size() == 1; }));

  TransportOptions same_port = b->options;
  same_port.listen_address = b->address();
  b.reset();  // the peer goes away
  ASSERT_TRUE(run_until(io, [&] { return !a.counters_for(NodeId(2)).connected; }));

  b = std::make_unique<TestNode>(io, same_port);
  b->recorder.members = {NodeId(1), NodeId(2)};
  std::uint64_t sent = 1;
  ASSERT_TRUE(run_until(io, [&] { return !b->recorder.raft.empty(); },
                        [&] { a.transport->send(heartbeat(a.id(), NodeId(2), ++sent)); }));
  EXPECT_TRUE(a.counters_for(NodeId(2)).connected);
  EXPECT_GT(b->recorder.raft.front().context, 1u);
}

// What a failed connection drops is reported, so a node can answer the
// forwarded proposals that were on it; a send refused outright says so.
TEST(PeerTransport, AConnectionThatFailsWithFramesOnItIsReported) {
  asio::io_context io;
  TestNode a(io, options_for(1));
  const NodeId b(2);
  std::uint16_t closed_port = 0;
  {
    // A port that refuses connections: bound once, then closed.
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = probe.local_endpoint().port();
  }
  a.transport->set_peer_addresses({{b, "127.0.0.1:" + std::to_string(closed_port)}, {NodeId(3), "no port here"}});
  EXPECT_TRUE(a.transport->send_forward(b, ForwardedProposal{7, "data", 0, 0})) << "queued while dialing";
  ASSERT_TRUE(run_until(io, [&] { return !a.recorder.connections_lost.empty(); }));
  EXPECT_EQ(a.recorder.connections_lost.front(), b);
  EXPECT_FALSE(a.transport->send_forward(b, ForwardedProposal{8, "data", 0, 0})) << "refused while backing off";
  EXPECT_FALSE(a.transport->send_forward(NodeId(9), ForwardedProposal{9, "data", 0, 0})) << "no address";
  EXPECT_FALSE(a.transport->send_forward(NodeId(3), ForwardedProposal{10, "data", 0, 0})) << "an address that fails at once";
}

TEST(PeerTransport, AFullSendQueueDropsInsteadOfGrowing) {
  asio::io_context io;
  // A listener that accepts and then says nothing: the handshake never
  // completes, so everything sent to it waits in the queue.
  asio::ip::tcp::acceptor silent(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket held(io);
  bool accepted = false;
  silent.async_accept(held, [&](boost::system::error_code ec) { accepted = !ec; });

  TransportOptions o = options_for(1);
  o.send_queue_frames_max = 8;
  o.send_queue_bytes_max = 64u << 10;
  TestNode a(io, o);
  const NodeId b(2);
  a.transport->set_peer_addresses({{b, "127.0.0.1:" + std::to_string(silent.local_endpoint().port())}});
  a.transport->send(heartbeat(a.id(), b));
  ASSERT_TRUE(run_until(io, [&] { return accepted; }));

  for (int i = 0; i < 100; ++i) a.transport->send(heartbeat(a.id(), b, i));
  PeerCounters c = a.counters_for(b);
  EXPECT_EQ(c.queued_frames, 8u);
  EXPECT_EQ(c.frames_dropped, 101u - 8u);
  EXPECT_FALSE(c.connected);

  // The byte bound holds too: 20 KiB messages, 64 KiB allowed.
  TransportOptions o2 = options_for(3);
  o2.send_queue_bytes_max = 64u << 10;
  TestNode d(io, o2);
  d.transport->set_peer_addresses({{b, "127.0.0.1:" + std::to_string(silent.local_endpoint().port())}});
  raft::Message big = heartbeat(d.id(), b);
  big.type = raft::MessageType::kAppend;
  big.entries = {{raft::Index(1), raft::Term(1), raft::EntryType::kNormal, std::string(20u << 10, 'x')}};
  for (int i = 0; i < 50; ++i) d.transport->send(big);
  c = d.counters_for(b);
  EXPECT_LE(c.queued_bytes, 64u << 10);
  EXPECT_EQ(c.queued_frames, 3u);
  EXPECT_EQ(c.frames_dropped, 47u);
}

}  // namespace
}  // namespace conclave::peer
