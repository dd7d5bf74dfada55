// conclaved: the Conclave sidecar daemon. Parses the configuration, sets up
// logging (the journal under systemd, else the console: logging.h), opens
// and locks the data directory, and runs the node, the peer transport, the
// admin and application sockets and (when metrics_listen is set) the
// /metrics endpoint on one io_context until a signal or the node itself
// ends it.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT, or this node's removal
// from the cluster); 1 when it cannot start or fails (a disk error is
// fail-stop); 2 for a bad configuration.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>

#include "ipc/admin_server.h"
#include "ipc/app_server.h"
#include "sidecar/node/config.h"
#include "sidecar/node/logging.h"
#include "sidecar/node/metrics_server.h"
#include "sidecar/node/node.h"
#include "sidecar/node/peer_network.h"
#include "sidecar/node/service_manager.h"
#include "sidecar/peer/transport.h"
#include "sidecar/storage/data_dir.h"

using namespace conclave;

#ifdef CONCLAVE_TEST_FILESYSTEM
// Only in the test build of this file (tests/systemd): a filesystem whose
// syncs a test can make hang. conclaved itself has no such hook.
storage::Filesystem& conclave_test_filesystem();
#endif

namespace {

int run(const node::NodeConfig& config) {
  spdlog::info("conclaved starting: cluster '{}', data dir {}, peers on {} (advertised {}), admin socket {}, "
               "application socket {}",
               config.cluster_id, config.data_dir, config.peer_listen, config.advertise, config.admin_socket,
               config.app_socket);
  if (config.no_fsync) {
    spdlog::warn("*** --no-fsync: NOTHING IS FSYNCED. A crash or power loss can lose acknowledged writes and "
                 "votes. For tests only; never run a real cluster like this. ***");
  }
  if (config.peer_plaintext) {
    spdlog::warn("*** peer_plaintext: peer traffic is NEITHER ENCRYPTED NOR AUTHENTICATED BY CERTIFICATE. Anyone on "
                 "the network can read the replicated data and, without a cluster secret, take part in it. Set "
                 "tls_ca_file, tls_cert_file and tls_key_file instead, except on a network you trust. ***");
  }
  if (config.cluster_secret.empty()) {
    spdlog::warn("no cluster secret: anyone who can reach the peer port and knows the cluster id can join the "
                 "Raft traffic; set cluster_secret_file");
  }

  storage::DataDirOptions dir_options;
  dir_options.log.fsync = !config.no_fsync;
  dir_options.log.preallocate = config.log_preallocate;
#ifdef CONCLAVE_TEST_FILESYSTEM
  storage::Filesystem& filesystem = conclave_test_filesystem();
#else
  storage::Filesystem& filesystem = storage::posix_filesystem();
#endif
  auto data_dir = storage::DataDir::open(config.data_dir, dir_options, filesystem);
  if (!data_dir) {
    spdlog::critical("cannot open the data directory: {}", data_dir.error().message);
    return 1;
  }

  boost::asio::io_context io;
  node::Node node(io, config, **data_dir);
  try {
    node.recover();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }

  peer::TransportOptions transport_options;
  transport_options.self = raft::NodeId(config.id);
  transport_options.cluster_id = config.cluster_id;
  transport_options.listen_address = config.peer_listen;
  transport_options.advertised_address = config.advertise;
  transport_options.cluster_secret = config.cluster_secret;
  transport_options.tls_ca_file = config.tls_ca_file;
  transport_options.tls_cert_file = config.tls_cert_file;
  transport_options.tls_key_file = config.tls_key_file;
  peer::Transport transport(io, transport_options, node);
  node::TransportNetwork network(transport);
  ipc::AdminServer admin(io, ipc::AdminServerOptions{config.admin_socket}, node);
  ipc::AppServerOptions app_options;
  app_options.path = config.app_socket;
  app_options.mode = static_cast<mode_t>(config.app_socket_mode_bits);
  if (config.app_socket_gid) app_options.group = static_cast<gid_t>(*config.app_socket_gid);
  if ((config.app_socket_mode_bits & 0006) != 0) {
    spdlog::warn("app_socket_mode {} lets every user on this machine connect to the application socket; "
                 "SO_PEERCRED still checks them against app_allowed_uids/gids",
                 config.app_socket_mode);
  }
  app_options.allowed_uids.assign(config.app_allowed_uids.begin(), config.app_allowed_uids.end());
  app_options.allowed_gids.assign(config.app_allowed_gids.begin(), config.app_allowed_gids.end());
  ipc::AppServer apps(io, app_options, node);
  std::unique_ptr<node::MetricsServer> metrics;
  if (!config.metrics_listen.empty()) {
    const node::HostPort where = node::parse_host_port("metrics_listen", config.metrics_listen);
    metrics = std::make_unique<node::MetricsServer>(io, node::MetricsServerOptions{where.host, where.port}, [&node] {
      node::MetricsRegistry registry;
      node.collect(registry);
      return registry.render();
    });
  }
  try {
    transport.start();
    admin.start();
    apps.start();
    if (metrics) metrics->start();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }

  int exit_code = 0;
  boost::asio::steady_timer watchdog(io);
  std::function<void()> ping_watchdog;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  int signals_seen = 0;
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      const char* name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
      if (++signals_seen == 1) {
        conclave::node::notify_stopping();
        spdlog::info("received {}: stopping (a leader hands off first; send it again to stop at once)", name);
        node.shutdown();
      } else {
        spdlog::warn("received {} again: stopping at once", name);
        io.stop();
      }
      wait_for_signal();
    });
  };
  wait_for_signal();

  node.start(network, [&](int code) {
    exit_code = code;
    conclave::node::notify_stopping();
    signals.cancel();
    watchdog.cancel();
    admin.stop();
    apps.stop();
    if (metrics) metrics->stop();
    transport.stop();
    io.stop();
  });
  if (auto interval = conclave::node::watchdog_ping_interval()) {
    // Pinged from the event loop itself, so a stuck loop stops the pings,
    // and only with no disk sync outstanding, so a hanging disk stops them
    // too (the sync runs on its own thread; Node::after_sync).
    ping_watchdog = [&, every = *interval] {
      node.after_sync([&, every] {
        conclave::node::notify_watchdog();
        watchdog.expires_after(every);
        watchdog.async_wait([&](boost::system::error_code ec) {
          if (!ec) ping_watchdog();
        });
      });
    };
    ping_watchdog();
  }
  const raft::NodeStatus status = node.status();
  conclave::node::notify_ready(conclave::node::describe_status(status.role, status.term, status.leader));
  try {
    io.run();
  } catch (const std::exception& e) {
    spdlog::critical("unexpected error in the event loop: {}; stopping", e.what());
    return 1;
  }
  spdlog::info("conclaved exits with code {}", exit_code);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  node::ParsedConfig parsed;
  try {
    parsed = node::parse_command_line(argc, argv);
  } catch (const node::ConfigError& e) {
    std::fprintf(stderr, "conclaved: refusing to start: %s\n", e.what());
    return 2;
  }
  if (parsed.outcome == node::ParseOutcome::kExitSuccess) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  try {
    node::set_up_logging(parsed.config);
  } catch (const node::ConfigError& e) {
    std::fprintf(stderr, "conclaved: refusing to start: %s\n", e.what());
    return 2;
  }
  return run(parsed.config);
}
