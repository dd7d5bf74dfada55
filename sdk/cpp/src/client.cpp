// The public Client: each call becomes a Request for the I/O thread, and
// each answer a future's value or a completion call.
#include "conclave/client.h"

#include "client_core.h"

namespace conclave {

class Client::Impl {
 public:
  Impl(Handler& handler, ClientOptions options) : core(handler, std::move(options)) {}
  detail::ClientCore core;

  template <typename T, typename Extract>
  void submit(detail::Request::Kind kind, std::string data, Completion<T> done, Extract extract) {
    detail::Request r;
    r.kind = kind;
    r.data = std::move(data);
    r.deadline = detail::Clock::now() + core.options().request_timeout;
    r.done = [done, extract](const detail::Answer& a) {
      T value = extract(a);
      done(&value, nullptr);
    };
    r.fail = [done](const Error& e) { done(nullptr, &e); };
    core.submit(std::move(r));
  }
};

namespace {

template <typename T>
std::pair<std::future<T>, Completion<T>> promised() {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  Completion<T> done = [promise](const T* value, const Error* error) {
    if (value != nullptr) {
      promise->set_value(*value);
    } else {
      promise->set_exception(std::make_exception_ptr(*error));
    }
  };
  return {std::move(future), std::move(done)};
}

Index index_of(const detail::Answer& a) { return a.index; }
Status status_of(const detail::Answer& a) { return a.status; }

}  // namespace

Client::Client(Handler& handler, ClientOptions options) : impl_(std::make_unique<Impl>(handler, std::move(options))) {}

Client::~Client() = default;

void Client::propose(std::string data, Completion<Index> done) {
  // The sidecar closes a session that sends a frame over 8 MiB (a protocol
  // error, which would stop this client): refuse such a proposal here.
  constexpr std::size_t kProposeBytesMax = detail::FrameStream::kFrameBytesMax - 4096;
  if (data.size() > kProposeBytesMax) {
    Error too_big(ErrorCode::rejected, "a proposal of " + std::to_string(data.size()) + " bytes is over the limit of " +
                                           std::to_string(kProposeBytesMax) + "; split it into several entries");
    return done(nullptr, &too_big);
  }
  impl_->submit(detail::Request::Kind::propose, std::move(data), std::move(done), index_of);
}

std::future<Index> Client::propose(std::string data) {
  auto [future, done] = promised<Index>();
  propose(std::move(data), std::move(done));
  return std::move(future);
}

void Client::barrier(Completion<Index> done) {
  impl_->submit(detail::Request::Kind::barrier, {}, std::move(done), index_of);
}

std::future<Index> Client::barrier() {
  auto [future, done] = promised<Index>();
  barrier(std::move(done));
  return std::move(future);
}

void Client::status(Completion<Status> done) {
  impl_->submit(detail::Request::Kind::status, {}, std::move(done), status_of);
}

std::future<Status> Client::status() {
  auto [future, done] = promised<Status>();
  status(std::move(done));
  return std::move(future);
}

Index Client::applied_index() const { return impl_->core.dispatcher().applied(); }

bool Client::wait_applied(Index index, std::chrono::milliseconds timeout) {
  return impl_->core.dispatcher().wait_applied(index, timeout);
}

void Client::stop() { impl_->core.stop(); }

}  // namespace conclave
