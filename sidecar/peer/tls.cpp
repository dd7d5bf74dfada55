// Peer TLS over OpenSSL. See tls.h.
#include "sidecar/peer/tls.h"

#include <cstdio>
#include <stdexcept>

#include <boost/asio/ssl/error.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace conclave::peer {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

void require_readable(const std::string& file, const char* what) {
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) {
    throw std::runtime_error(fmt::format("peer TLS: cannot read the {} '{}'", what, file));
  }
  std::fclose(f);
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const TlsFiles& files) {
  require_readable(files.ca_file, "CA file (tls_ca_file)");
  require_readable(files.cert_file, "certificate file (tls_cert_file)");
  require_readable(files.key_file, "key file (tls_key_file)");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  if (SSL_CTX_load_verify_locations(native, files.ca_file.c_str(), nullptr) != 1) {
    throw std::runtime_error(
        fmt::format("peer TLS: tls_ca_file '{}' holds no usable CA certificate (PEM): {}",
                    files.ca_file, openssl_error()));
  }
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1) {
    throw std::runtime_error(
        fmt::format("peer TLS: tls_cert_file '{}' holds no usable certificate (PEM): {}",
                    files.cert_file, openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error(
        fmt::format("peer TLS: tls_key_file '{}' holds no usable private key (PEM): {}",
                    files.key_file, openssl_error()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error(
        fmt::format("peer TLS: the key in '{}' does not belong to the certificate in '{}'",
                    files.key_file, files.cert_file));
  }
  // Both roles demand a certificate from the other side.
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

std::string tls_node_name(raft::NodeId id, std::string_view cluster_id) {
  return fmt::format("node-{}.{}", id.value(), cluster_id);
}

std::string check_peer_names_node(SSL* ssl, raft::NodeId id, std::string_view cluster_id) {
  const std::string name = tls_node_name(id, cluster_id);
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "it presented no certificate";
  const int found =
      X509_check_host(cert, name.data(), name.size(),
                      X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
  std::string subject;
  if (found != 1) {
    char text[256];
    X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text);
    subject = text;
  }
  X509_free(cert);
  if (found == 1) return {};
  return fmt::format(
      "its certificate ({}) does not name {} (a DNS subjectAltName); each node needs a "
      "certificate of its own, see scripts/make-test-certs",
      subject, name);
}

std::string tls_failure_reason(SSL* ssl, const boost::system::error_code& ec) {
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return fmt::format("TLS handshake failed: the peer's certificate was refused: {}",
                         X509_verify_cert_error_string(verify));
    }
  }
  if (ec == boost::asio::error::eof || ec == ssl::error::stream_truncated) {
    return "TLS handshake failed: the peer closed the connection (it may have refused our "
           "certificate, or it does not speak TLS)";
  }
  return "TLS handshake failed: " + ec.message();
}

}  // namespace conclave::peer
