#include "mock-api/environments.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "common/contract.h"
#include "common/percent_encoding.h"
#include "mock-api/responses.h"

namespace bim::mock {
namespace {

using nlohmann::json;

constexpr size_t kMaxValueBytes = 32 * 1024;
constexpr size_t kMaxVariables = 200;
constexpr size_t kMaxEnvironments = 20;

// Names come from the path, decoded, and need not be UTF-8: replaced, never a throw.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

void Environments::Ensure(const std::string& project) {
  auto& envs = projects_[project];
  if (envs.empty()) {
    envs[kProduction];
    envs["staging"];
  }
}

bool Environments::Exists(const std::string& project, const std::string& environment) const {
  auto p = projects_.find(project);
  if (p == projects_.end()) return environment == kProduction || environment == "staging";
  return p->second.count(environment) > 0;
}

std::map<std::string, std::string> Environments::Variables(const std::string& project,
                                                           const std::string& environment) const {
  auto p = projects_.find(project);
  if (p == projects_.end()) return {};
  auto e = p->second.find(environment);
  return e == p->second.end() ? std::map<std::string, std::string>{} : e->second.variables;
}

void Environments::Serve(const std::string& project, const std::string& environment,
                         const std::string& deployment, const std::string& url) {
  Ensure(project);
  auto e = projects_[project].find(environment);
  if (e == projects_[project].end()) return;  // removed while the deployment ran
  e->second.deployment = deployment;
  e->second.url = url;
}

std::optional<std::string> Environments::CheckKey(const std::string& key) {
  if (auto valid = contract::ValidateVariableKey(key); !valid.ok()) return valid.error().message;
  if (key == "PATH" || key == "HOME" || key.rfind("BACKEND_IM_", 0) == 0) {
    return "the platform sets " + key + " itself";
  }
  return std::nullopt;
}

ws::HttpResponse Environments::List(const std::string& project) {
  Ensure(project);
  json list = json::array();
  for (const auto& [name, e] : projects_[project]) {
    json j{{"name", name}, {"variables", e.variables.size()}};
    if (!e.deployment.empty()) j["deploymentId"] = e.deployment;
    if (!e.url.empty()) j["url"] = e.url;
    list.push_back(std::move(j));
  }
  return JsonResponse(200, Dump(json{{"projectId", project}, {"environments", list}}));
}

ws::HttpResponse Environments::ListVariables(const std::string& project,
                                             const std::string& environment, bool values) {
  json list = json::array();
  for (const auto& [key, value] : projects_[project][environment].variables) {
    json j{{"key", key}};
    if (values) j["value"] = value;
    list.push_back(std::move(j));
  }
  return JsonResponse(
      200, Dump(json{{"projectId", project}, {"environment", environment}, {"variables", list}}));
}

std::optional<ws::HttpResponse> Environments::Handle(const ws::HttpRequest& req) {
  static const std::string kPrefix = "/api/projects/";
  if (req.path.rfind(kPrefix, 0) != 0) return std::nullopt;
  auto s = PathSegments(req.path.substr(kPrefix.size()));
  if (s.size() < 2 || s[1] != "environments" || s.size() > 5) return std::nullopt;
  const std::string& project = s[0];
  const std::string& m = req.method;
  if (project.empty() || project.size() > 256) {
    return ErrorResponse(400, "invalid_request", "a project id is 1 to 256 bytes");
  }
  if (s.size() == 2) {
    if (m == "GET") return List(project);
    if (m != "POST") return MethodNotAllowed("GET, POST");
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body["name"].is_string()) {
      return ErrorResponse(400, "invalid_request",
                           "the body is {\"name\": NAME}, NAME 1 to 32 of a-z, 0-9 and '-', "
                           "starting with a letter");
    }
    std::string name = body["name"];
    if (auto valid = contract::ValidateEnvironmentName(name); !valid.ok()) {
      return ErrorResponse(400, "invalid_request", valid.error().message);
    }
    Ensure(project);
    auto& envs = projects_[project];
    if (envs.count(name)) {
      return ErrorResponse(409, "environment_exists", "environment " + name + " already exists");
    }
    if (envs.size() >= kMaxEnvironments) {
      return ErrorResponse(409, "too_many_environments", "a project has at most 20 environments");
    }
    envs[name];
    return JsonResponse(201, Dump(json{{"projectId", project}, {"name", name}}));
  }
  const std::string& environment = s[2];
  if (!Exists(project, environment)) {
    return ErrorResponse(
        404, "environment_not_found",
        "project " + project.substr(0, 64) + " has no environment " + environment.substr(0, 64));
  }
  Ensure(project);
  auto& env = projects_[project][environment];
  if (s.size() == 3) {
    if (m != "DELETE") return MethodNotAllowed("DELETE");
    if (environment == kProduction) {
      return ErrorResponse(409, "environment_protected", "production cannot be removed");
    }
    projects_[project].erase(environment);
    return NoContentResponse();
  }
  if (s[3] != "variables") return std::nullopt;
  if (s.size() == 4) {
    if (m != "GET") return MethodNotAllowed("GET");
    auto values = req.query.find("values");
    return ListVariables(project, environment,
                         values != req.query.end() && values->second == "true");
  }
  const std::string& key = s[4];
  if (auto bad = CheckKey(key)) return ErrorResponse(400, "invalid_request", *bad);
  if (m == "DELETE") {
    if (!env.variables.erase(key)) {
      return ErrorResponse(404, "variable_not_found", "no variable " + key + " in " + environment);
    }
    return NoContentResponse();
  }
  if (m != "PUT") return MethodNotAllowed("PUT, DELETE");
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body["value"].is_string()) {
    return ErrorResponse(400, "invalid_request", "the body is {\"value\": \"...\"}");
  }
  std::string value = body["value"];
  if (value.size() > kMaxValueBytes || value.find('\0') != std::string::npos) {
    return ErrorResponse(400, "invalid_request", "a value is at most 32 KiB, without NUL");
  }
  if (!env.variables.count(key) && env.variables.size() >= kMaxVariables) {
    return ErrorResponse(409, "too_many_variables", "an environment has at most 200 variables");
  }
  env.variables[key] = std::move(value);
  return JsonResponse(200, Dump(json{{"key", key}, {"environment", environment}}));
}

}  // namespace bim::mock
