#pragma once
// The mock's environments and variables (docs/API_CONTRACTS.md, "Environments and variables"):
// each project has named environments, production and staging from the start, each with its
// own variables and the deployment it serves. A deploy names its environment (production when
// it names none) and its app is started with that environment's variables as they were at the
// deploy. Values are kept in memory only and never logged; the HTTP answers never carry a value
// unless the request asked for values.
//
// Threading: not thread-safe; every method runs on the server's io thread.

#include <map>
#include <optional>
#include <string>

#include "ws/http_ws_server.h"

namespace bim::mock {

class Environments {
 public:
  static constexpr const char* kProduction = "production";

  // Gives project its first environments (production, staging) if it has none yet.
  void Ensure(const std::string& project);
  bool Exists(const std::string& project, const std::string& environment) const;
  // The variables of an environment (empty when it has none or does not exist).
  std::map<std::string, std::string> Variables(const std::string& project,
                                               const std::string& environment) const;
  // A deployment of that environment is complete and serves at url (unless the environment was
  // removed while it ran).
  void Serve(const std::string& project, const std::string& environment,
             const std::string& deployment, const std::string& url);

  // Answers /api/projects/{projectId}/environments[/{name}[/variables[/{KEY}]]]; nullopt for
  // any other path. The caller has checked the bearer token.
  std::optional<ws::HttpResponse> Handle(const ws::HttpRequest& req);

  // Why key cannot name a variable: not one by contract::ValidateVariableKey, or one the
  // platform sets itself (PATH, HOME, BACKEND_IM_*); nullopt when it can.
  static std::optional<std::string> CheckKey(const std::string& key);

 private:
  struct Environment {
    std::map<std::string, std::string> variables;
    std::string deployment;  // the one it serves, once one completed
    std::string url;
  };

  ws::HttpResponse List(const std::string& project);
  ws::HttpResponse ListVariables(const std::string& project, const std::string& environment,
                                 bool values);

  std::map<std::string, std::map<std::string, Environment>> projects_;
};

}  // namespace bim::mock
