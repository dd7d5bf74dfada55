// Mutual TLS between sidecars: the TLS context built from the configured CA,
// certificate and key, the name a node's certificate must carry, and the
// check of a peer's certificate against the node id it claims.
//
// Where it sits: the TLS handshake runs first on every connection, before
// any frame. Both sides present a certificate and verify the other's chain
// against the cluster's CA only (not the system's roots), with expiry
// checked, so a peer without a certificate, with an expired one or one from
// another CA never gets a frame read. Then the usual challenge/hello runs
// inside TLS; the acceptor checks that the hello's node id is the one the
// certificate names, the dialer that the welcome's is (and both still ask
// the HMAC proof of the cluster secret, and the acceptor asks the node
// whether the id is a member). The HMAC adds little once certificates
// authenticate the nodes, but it costs nothing and keeps one protocol for
// plaintext and TLS; it stays.
//
// Naming: a node's certificate has the DNS subjectAltName
// node-<id>.<cluster-id> (scripts/make-test-certs makes such certificates).
// A DNS name rather than a CN because subjectAltName is what OpenSSL's
// X509_check_host reads; wildcards are not accepted, so no one certificate
// can speak for several nodes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "sidecar/raft/types.h"

typedef struct ssl_st SSL;

namespace conclave::peer {

struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !ca_file.empty(); }
};

// A context for both roles: TLS 1.2 at least, peer certificates required
// and verified against ca_file alone. Throws std::runtime_error naming the
// file that cannot be read or used (or a key that does not match its
// certificate).
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsFiles& files);

// The DNS name node `id`'s certificate carries: node-<id>.<cluster_id>.
std::string tls_node_name(raft::NodeId id, std::string_view cluster_id);

// Empty when the peer's certificate on `ssl` names node `id`, otherwise why
// not (for the log and the refusal).
std::string check_peer_names_node(SSL* ssl, raft::NodeId id, std::string_view cluster_id);

// Why a TLS handshake failed, in words: the verification result when the
// peer's certificate was refused (expired, unknown CA, none given), else the
// error itself.
std::string tls_failure_reason(SSL* ssl, const boost::system::error_code& ec);

}  // namespace conclave::peer
