// The ctl's table of the agent's RPCs (ctl/agent_methods.h) against agent.proto itself: every
// method of service backend_im.v1.Agent is there, with gRPC's path for it, its request and reply
// messages and its kind (unary or server-streaming). A typo in a path would otherwise only show
// as UNIMPLEMENTED from a running agent. The messages are generated for the lite runtime, which
// has no descriptors, so the service is read from the .proto's text.
#include "ctl/agent_methods.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace rpc = bim::ctl::rpc;

struct ProtoMethod {
  std::string request;
  std::string reply;
  bool streaming = false;
};

// The rpc lines of service Agent, by method name; message names with their package.
const std::map<std::string, ProtoMethod>& ProtoMethods() {
  static const std::map<std::string, ProtoMethod> methods = [] {
    std::ifstream in(std::string(BIM_SOURCE_DIR) + "/proto/backend_im/v1/agent.proto");
    std::stringstream text;
    text << in.rdbuf();
    std::string proto = text.str();
    std::map<std::string, ProtoMethod> out;
    std::regex rpc_line(
        R"(\brpc\s+(\w+)\s*\(\s*(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\))");
    for (std::sregex_iterator it(proto.begin(), proto.end(), rpc_line), end; it != end; ++it) {
      const std::smatch& m = *it;
      out[m[1]] = {"backend_im.v1." + m[2].str(), "backend_im.v1." + m[4].str(), m[3].matched};
    }
    return out;
  }();
  return methods;
}

// The method that path names, checked against the messages and kind the table gives it.
std::string Check(std::string_view path, const std::string& request, const std::string& reply,
                  bool streaming) {
  const std::string prefix = "/backend_im.v1.Agent/";
  REQUIRE(path.substr(0, prefix.size()) == prefix);
  std::string name(path.substr(prefix.size()));
  auto it = ProtoMethods().find(name);
  REQUIRE_MESSAGE(it != ProtoMethods().end(), "no method for " << path);
  CHECK(it->second.request == request);
  CHECK(it->second.reply == reply);
  CHECK(it->second.streaming == streaming);
  return name;
}

template <typename Request, typename Reply>
std::string Check(const rpc::Unary<Request, Reply>& m) {
  return Check(m.path, Request::default_instance().GetTypeName(),
               Reply::default_instance().GetTypeName(), false);
}

template <typename Request, typename Message>
std::string Check(const rpc::ServerStream<Request, Message>& m) {
  return Check(m.path, Request::default_instance().GetTypeName(),
               Message::default_instance().GetTypeName(), true);
}

}  // namespace

TEST_CASE("the ctl's table of the agent's methods matches agent.proto, method for method") {
  REQUIRE(ProtoMethods().size() >= 14);
  std::set<std::string> seen = {
      Check(rpc::kGetInfo),
      Check(rpc::kShutdown),
      Check(rpc::kAuthStatus),
      Check(rpc::kLoginStart),
      Check(rpc::kLoginCheck),
      Check(rpc::kLoginWithToken),
      Check(rpc::kLogout),
      Check(rpc::kGenerate),
      Check(rpc::kDeploy),
      Check(rpc::kStatus),
      Check(rpc::kWatch),
      Check(rpc::kHistory),
      Check(rpc::kRollback),
      Check(rpc::kGetFiles),
      Check(rpc::kListEnvironments),
      Check(rpc::kAddEnvironment),
      Check(rpc::kRemoveEnvironment),
      Check(rpc::kListVariables),
      Check(rpc::kSetVariable),
      Check(rpc::kUnsetVariable),
      Check(rpc::kPromote),
      Check(rpc::kAddDomain),
      Check(rpc::kListDomains),
      Check(rpc::kVerifyDomain),
      Check(rpc::kRemoveDomain),
      Check(rpc::kGetLogs),
      Check(rpc::kFollowLogs),
  };
  CHECK(seen.size() == ProtoMethods().size());
}
