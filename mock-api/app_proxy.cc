#include "mock-api/app_proxy.h"

#include <array>

namespace bim::mock {
namespace {

// One forwarded connection: two sockets and a pump in each direction. It owns itself through
// the handlers it has outstanding, and ends when either side closes.
class Forward : public std::enable_shared_from_this<Forward> {
 public:
  Forward(asio::ip::tcp::socket client, asio::io_context& io)
      : client_(std::move(client)), app_(io) {}

  void Start(const std::string& upstream, const std::string& project) {
    if (upstream.empty()) return Refuse("project " + project + " has no app running");
    auto self = shared_from_this();
    app_.async_connect(asio::local::stream_protocol::endpoint(upstream),
                       [self, project](const asio::error_code& ec) {
                         if (ec)
                           return self->Refuse("the app of project " + project +
                                               " is not answering (" + ec.message() + ")");
                         self->Pump(self->client_, self->app_, self->up_);
                         self->Pump(self->app_, self->client_, self->down_);
                       });
  }

 private:
  using Buffer = std::array<char, 16384>;

  template <typename From, typename To>
  void Pump(From& from, To& to, Buffer& buf) {
    auto self = shared_from_this();
    from.async_read_some(
        asio::buffer(buf), [self, &from, &to, &buf](const asio::error_code& ec, size_t n) {
          if (ec) return self->Shut();
          asio::async_write(to, asio::buffer(buf.data(), n),
                            [self, &from, &to, &buf](const asio::error_code& wec, size_t) {
                              if (wec) return self->Shut();
                              self->Pump(from, to, buf);
                            });
        });
  }

  void Shut() {
    asio::error_code ignored;
    client_.shutdown(asio::socket_base::shutdown_both, ignored);
    client_.close(ignored);
    app_.close(ignored);
  }

  void Refuse(const std::string& why) {
    auto body = std::make_shared<std::string>(why + "\n");
    auto text = std::make_shared<std::string>(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body->size()) + "\r\n\r\n" + *body);
    auto self = shared_from_this();
    asio::async_write(client_, asio::buffer(*text),
                      [self, text](const asio::error_code&, size_t) { self->Shut(); });
  }

  asio::ip::tcp::socket client_;
  asio::local::stream_protocol::socket app_;
  Buffer up_{}, down_{};
};

}  // namespace

AppProxy::AppProxy(asio::io_context& io, std::string project)
    : io_(io),
      project_(std::move(project)),
      acceptor_(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  port_ = acceptor_.local_endpoint().port();
  Accept();
}

AppProxy::~AppProxy() {
  *alive_ = false;
  asio::error_code ignored;
  acceptor_.close(ignored);
}

void AppProxy::Accept() {
  std::weak_ptr<bool> alive = alive_;
  acceptor_.async_accept([this, alive](const asio::error_code& ec, asio::ip::tcp::socket s) {
    auto live = alive.lock();
    if (!live || !*live) return;
    if (!ec) std::make_shared<Forward>(std::move(s), io_)->Start(upstream_, project_);
    if (ec != asio::error::operation_aborted) Accept();
  });
}

}  // namespace bim::mock
