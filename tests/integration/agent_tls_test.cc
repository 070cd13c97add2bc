// https is verified: the peer's chain and its host name, with extra CAs from
// BACKEND_IM_CA_FILE. The TLS peer is `openssl s_server` on loopback with certificates made here.
#include <future>

#include "tests/integration/agent_fixture.h"

using namespace bim::test;

namespace {

// A self-signed certificate for `name`, and an s_server presenting it on 127.0.0.1.
class TlsServer {
 public:
  explicit TlsServer(const std::string& name) {
    // A P-256 key: made in milliseconds, where an RSA key takes a quarter of a second.
    auto r =
        Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", dir_ / "key.pem", "-out", dir_ / "cert.pem", "-subj",
             "/CN=" + name, "-addext", "subjectAltName=DNS:" + name, "-days", "2"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    server_ = std::make_unique<Process>(
        std::vector<std::string>{"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
                                 dir_ / "cert.pem", "-key", dir_ / "key.pem", "-www"});
    REQUIRE(server_->WaitForOutput("ACCEPT 127.0.0.1:", std::chrono::seconds(10)));
    std::string out = server_->Stdout();
    port_ = std::atoi(out.c_str() + out.find("ACCEPT 127.0.0.1:") + 17);
  }
  std::string cert() const { return dir_ / "cert.pem"; }
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> server_;
  int port_ = 0;
};

RunResult LoginAgainst(AgentFixture& f, const std::string& url, const std::string& ca_file) {
  f.StopAgent();
  f.env()["BACKEND_IM_API_URL"] = url;
  if (ca_file.empty()) {
    f.env().erase("BACKEND_IM_CA_FILE");
  } else {
    f.env()["BACKEND_IM_CA_FILE"] = ca_file;
  }
  return f.Ctl({"auth", "login", "--with-token"}, "t\n");
}

}  // namespace

TEST_CASE(
    "https: an untrusted certificate is refused, a trusted one passes, a wrong host name is "
    "refused") {
  TlsServer localhost("localhost");
  TlsServer other("otherhost.example");
  AgentFixture f({}, false);
  std::string url = "https://localhost:" + std::to_string(localhost.port());
  // The wrong host name is tried at the same time, by a user (and agent) of its own.
  AgentFixture g({}, false);
  auto wrong_host_login = std::async(std::launch::async, [&] {
    return LoginAgainst(g, "https://localhost:" + std::to_string(other.port()), other.cert());
  });

  auto untrusted = LoginAgainst(f, url, "");
  CHECK(untrusted.exit_code == 5);
  CHECK(untrusted.err.find("certificate") != std::string::npos);
  // A verdict, not a network error: said once, with what to do, not retried for a minute.
  CHECK(untrusted.err.find("BACKEND_IM_CA_FILE") != std::string::npos);
  CHECK(CountOf(f.AgentLog(), "retry") == 0);

  // Trusted through BACKEND_IM_CA_FILE: TLS passes, and s_server's HTML page is then (rightly)
  // outside the API contract.
  auto trusted = LoginAgainst(f, url, localhost.cert());
  CHECK(trusted.err.find("certificate") == std::string::npos);
  CHECK(trusted.err.find("outside the API contract") != std::string::npos);

  // A certificate the CA file trusts, but for another host name.
  auto wrong_host = wrong_host_login.get();
  CHECK(wrong_host.exit_code == 5);
  bool named = wrong_host.err.find("subject name") != std::string::npos ||
               wrong_host.err.find("host name") != std::string::npos;
  CHECK_MESSAGE(named, wrong_host.err);
}
