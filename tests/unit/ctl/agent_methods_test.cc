// The ctl's table of the agent's RPCs (ctl/agent_methods.h) against the proto itself: every
// method of service backend_im.v1.Agent is there, with gRPC's path for it, its request and reply
// messages and its kind (unary or server-streaming). A typo in a path would otherwise only show
// as UNIMPLEMENTED from a running agent.
#include "ctl/agent_methods.h"

#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>

#include <set>
#include <string>

namespace {

namespace rpc = bim::ctl::rpc;
namespace gp = google::protobuf;

const gp::ServiceDescriptor& AgentService() {
  const gp::ServiceDescriptor* service =
      backend_im::v1::AgentInfo::descriptor()->file()->FindServiceByName("Agent");
  REQUIRE(service != nullptr);
  return *service;
}

// The method that path names, checked against the messages and kind the table gives it.
const gp::MethodDescriptor* Check(std::string_view path, const gp::Descriptor* request,
                                  const gp::Descriptor* reply, bool streaming) {
  const gp::ServiceDescriptor& service = AgentService();
  std::string prefix = "/" + service.full_name() + "/";
  REQUIRE(path.substr(0, prefix.size()) == prefix);
  const gp::MethodDescriptor* m = service.FindMethodByName(std::string(path.substr(prefix.size())));
  REQUIRE_MESSAGE(m != nullptr, "no method for " << path);
  CHECK(m->input_type() == request);
  CHECK(m->output_type() == reply);
  CHECK_FALSE(m->client_streaming());
  CHECK(m->server_streaming() == streaming);
  return m;
}

template <typename Request, typename Reply>
const gp::MethodDescriptor* Check(const rpc::Unary<Request, Reply>& m) {
  return Check(m.path, Request::descriptor(), Reply::descriptor(), false);
}

template <typename Request, typename Message>
const gp::MethodDescriptor* Check(const rpc::ServerStream<Request, Message>& m) {
  return Check(m.path, Request::descriptor(), Message::descriptor(), true);
}

}  // namespace

TEST_CASE("the ctl's table of the agent's methods matches agent.proto, method for method") {
  std::set<const gp::MethodDescriptor*> seen = {
      Check(rpc::kGetInfo),    Check(rpc::kShutdown),   Check(rpc::kAuthStatus),
      Check(rpc::kLoginStart), Check(rpc::kLoginCheck), Check(rpc::kLoginWithToken),
      Check(rpc::kLogout),     Check(rpc::kGenerate),   Check(rpc::kDeploy),
      Check(rpc::kStatus),     Check(rpc::kWatch),      Check(rpc::kHistory),
      Check(rpc::kRollback),   Check(rpc::kGetFiles),
  };
  CHECK(seen.count(nullptr) == 0);
  CHECK(static_cast<int>(seen.size()) == AgentService().method_count());
}
