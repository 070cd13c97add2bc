#include "tests/support/fake_agent_api.h"

#include <fmt/format.h>

#include <algorithm>

#include "proto/convert.h"

namespace bim::test {

namespace pb = backend_im::v1;
using ctl::OpFail;
using ctl::OpFailure;
using ctl::OpResult;

namespace {

// files as a reply's repeated File.
template <typename Reply>
void AddFiles(const contract::FileMap& files, Reply* reply) {
  for (const auto& [path, content] : files) {
    auto* f = reply->add_files();
    f->set_path(path);
    f->set_content(content);
  }
}

// The reply of a Deploy or Rollback that stored d.
pb::DeployReply Deployed(const pb::Deployment& d) {
  pb::DeployReply r;
  *r.mutable_deployment() = d;
  return r;
}

}  // namespace

FakeAgentApi::FakeAgentApi() {
  generate_files = {{"main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n"},
                    {"requirements.txt", "fastapi\nuvicorn\n"}};
  info.set_version("0.0.0-fake");
  info.set_pid(4242);
  info.set_started_at_unix_ms(now_ms_);
  info.set_api_url(api_url);
  info.set_socket_path(socket_);
  info.set_state_dir("/home/dev/.local/state/backend-im");
}

std::optional<ctl::OpError> FakeAgentApi::Enter(const std::string& method,
                                                ctl::CancelToken& cancel) {
  calls.push_back(method);
  if (cancel.cancelled()) return ctl::OpCancelled();
  if (auto f = failures.find(method); f != failures.end()) return f->second;
  return std::nullopt;
}

std::optional<ctl::OpError> FakeAgentApi::EnterLoggedIn(const std::string& method,
                                                        ctl::CancelToken& cancel) {
  if (auto e = Enter(method, cancel)) return e;
  if (!logged_in) return OpFail(OpFailure::kAuth, "not logged in");
  return std::nullopt;
}

int FakeAgentApi::Count(const std::string& method) const {
  return static_cast<int>(std::count(calls.begin(), calls.end(), method));
}

pb::AuthStatusReply FakeAgentApi::Auth() const {
  pb::AuthStatusReply a;
  a.set_api_url(api_url);
  a.set_logged_in(logged_in);
  if (!logged_in) return a;
  a.set_source(source);
  a.set_user_id(user_id);
  a.set_email(email);
  a.set_can_refresh(source == "device");
  a.set_verified(true);
  return a;
}

FakeAgentApi::Stored* FakeAgentApi::Find(const std::string& id) {
  for (auto& s : deployments_) {
    if (s.deployment.id() == id) return &s;
  }
  return nullptr;
}

OpResult<const FakeAgentApi::Stored*> FakeAgentApi::Known(const std::string& id) {
  if (const Stored* s = Find(id)) return s;
  return OpFail(OpFailure::kNotFound, "no deployment " + id);
}

FakeAgentApi::Stored& FakeAgentApi::Store(const std::string& project,
                                          const contract::FileMap& files, Outcome how, bool held,
                                          const std::string& environment) {
  int n = next_id_++;
  now_ms_ += 1000;
  Stored s;
  pb::Deployment& d = s.deployment;
  d.set_id(fmt::format("dep-{}", n));
  d.set_project_id(project);
  d.set_commit_hash(fmt::format("{:012x}", 0x5eed00000000ULL + static_cast<uint64_t>(n) * 977));
  d.set_created_at_unix_ms(now_ms_);
  d.set_updated_at_unix_ms(now_ms_);
  d.set_restorable(true);
  if (environments_offered) d.set_environment(environment.empty() ? "production" : environment);
  s.files = files;
  std::vector<contract::Stage> stages = {contract::Stage::kQueued, contract::Stage::kBuilding};
  if (!held) {
    stages.push_back(contract::Stage::kDeploying);
    stages.push_back(how == Outcome::kFailed ? contract::Stage::kFailed
                                             : contract::Stage::kComplete);
  }
  for (contract::Stage stage : stages) {
    pb::DeploymentEvent ev;
    ev.set_deployment_id(d.id());
    ev.set_seq(static_cast<int64_t>(s.events.size()) + 1);
    ev.set_status(std::string(contract::StageName(stage)));
    ev.set_stage(proto::ToProto(stage));
    ev.set_received_at_unix_ms(now_ms_);
    ev.set_source("stream");
    if (stage == contract::Stage::kBuilding) ev.add_logs("Building image for " + d.commit_hash());
    if (stage == contract::Stage::kFailed) ev.add_logs("health check failed: no answer on :8000");
    if (stage == contract::Stage::kComplete && how == Outcome::kComplete) {
      ev.set_url(fmt::format("https://{}.backend.im", d.commit_hash()));
    }
    ev.set_terminal(stage == contract::Stage::kComplete || stage == contract::Stage::kFailed);
    for (const auto& line : ev.logs()) d.add_logs(line);
    d.set_status(ev.status());
    d.set_stage(ev.stage());
    d.set_url(ev.url());
    d.set_terminal(ev.terminal());
    d.set_last_seq(ev.seq());
    s.events.push_back(std::move(ev));
  }
  if (d.terminal() && !d.url().empty() && environments_offered) {
    if (auto envs = Environments(project); envs.ok()) {
      FakeEnvironment& env = (**envs)[d.environment()];
      env.deployment_id = d.id();
      env.url = d.url();
    }
  }
  deployments_.push_back(std::move(s));
  return deployments_.back();
}

const pb::Deployment& FakeAgentApi::AddDeployment(const std::string& project,
                                                  const contract::FileMap& files, Outcome how) {
  return Store(project, files, how, false).deployment;
}

OpResult<pb::AgentInfo> FakeAgentApi::GetInfo(ctl::CancelToken& cancel) {
  if (auto e = Enter("GetInfo", cancel)) return *e;
  pb::AgentInfo i = info;
  i.set_logged_in(logged_in);
  return i;
}

OpResult<pb::AuthStatusReply> FakeAgentApi::AuthStatus(const pb::AuthStatusRequest&,
                                                       ctl::CancelToken& cancel) {
  if (auto e = Enter("AuthStatus", cancel)) return *e;
  return Auth();
}

OpResult<pb::AuthStatusReply> FakeAgentApi::LoginWithToken(const pb::LoginWithTokenRequest& request,
                                                           ctl::CancelToken& cancel) {
  if (auto e = Enter("LoginWithToken", cancel)) return *e;
  std::string token = request.access_token();
  token.erase(token.find_last_not_of(" \t\r\n") + 1);
  if (token != accepted_token) {
    return OpFail(OpFailure::kAuth, "the platform refused the token (401): invalid token");
  }
  logged_in = true;
  source = "token";
  return Auth();
}

OpResult<pb::LoginStartReply> FakeAgentApi::LoginStart(ctl::CancelToken& cancel) {
  if (auto e = Enter("LoginStart", cancel)) return *e;
  pb::LoginStartReply r;
  r.set_login_id("login-1");
  r.set_verification_uri("https://backend.im/device");
  r.set_verification_uri_complete("https://backend.im/device?code=WXYZ-2345");
  r.set_user_code("WXYZ-2345");
  r.set_expires_in_seconds(600);
  r.set_interval_seconds(5);
  return r;
}

OpResult<pb::LoginCheckReply> FakeAgentApi::LoginCheck(const pb::LoginCheckRequest& request,
                                                       ctl::CancelToken& cancel) {
  if (auto e = Enter("LoginCheck", cancel)) return *e;
  if (request.login_id() != "login-1") {
    return OpFail(OpFailure::kNotFound, "no such login: " + request.login_id());
  }
  pb::LoginCheckReply r;
  if (login_pending_checks > 0) {
    --login_pending_checks;
    r.set_state(pb::LoginCheckReply::PENDING);
    return r;
  }
  r.set_state(login_end);
  if (login_end == pb::LoginCheckReply::APPROVED) {
    logged_in = true;
    source = "device";
    *r.mutable_auth() = Auth();
  } else {
    r.set_message(login_end == pb::LoginCheckReply::DENIED ? "the login was denied"
                                                           : "the code expired; start again");
  }
  return r;
}

OpResult<pb::LogoutReply> FakeAgentApi::Logout(ctl::CancelToken& cancel) {
  if (auto e = Enter("Logout", cancel)) return *e;
  pb::LogoutReply r;
  r.set_was_logged_in(logged_in);
  logged_in = false;
  return r;
}

OpResult<pb::GenerateReply> FakeAgentApi::Generate(const pb::GenerateRequest& request,
                                                   ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("Generate", request, last_generate, cancel)) return *e;
  pb::GenerateReply r;
  AddFiles(generate_files, &r);
  r.set_project_id(generate_project);
  return r;
}

OpResult<pb::DeployReply> FakeAgentApi::Deploy(const pb::DeployRequest& request,
                                               ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("Deploy", request, last_deploy, cancel)) return *e;
  contract::FileMap files;
  for (const auto& f : request.files()) files[f.path()] = f.content();
  std::string project =
      request.project_id().empty() ? fmt::format("proj-{}", next_id_) : request.project_id();
  if (!request.environment().empty()) {
    auto env = EnvironmentOf(project, request.environment());
    if (!env.ok()) return env.error();
  }
  Stored& s = Store(project, files, outcome, hold, request.environment());
  s.deployment.set_directory(request.directory());
  return Deployed(s.deployment);
}

OpResult<pb::DeployReply> FakeAgentApi::Rollback(const pb::RollbackRequest& request,
                                                 ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("Rollback", request, last_rollback, cancel)) return *e;
  const Stored* from = nullptr;
  if (!request.to_deployment_id().empty()) {
    auto to = Known(request.to_deployment_id());
    if (!to.ok()) return to.error();
    from = *to;
  } else {
    // The newest complete deployment of the project whose files differ from the newest one's.
    const Stored* newest = nullptr;
    for (auto it = deployments_.rbegin(); it != deployments_.rend(); ++it) {
      if (it->deployment.project_id() != request.project_id()) continue;
      if (!request.environment().empty() && it->deployment.environment() != request.environment()) {
        continue;
      }
      if (!newest) {
        newest = &*it;
      } else if (it->deployment.status() == "complete" && it->files != newest->files) {
        from = &*it;
        break;
      }
    }
    if (!from) {
      return OpFail(OpFailure::kNotFound,
                    "project " + request.project_id() +
                        " has no earlier complete deployment to roll back to");
    }
  }
  std::string restored_of = from->deployment.id();
  contract::FileMap files = from->files;
  std::string environment =
      request.environment().empty() ? from->deployment.environment() : request.environment();
  Stored& s = Store(from->deployment.project_id(), files, outcome, hold, environment);
  s.deployment.set_restored_of(restored_of);
  return Deployed(s.deployment);
}

OpResult<pb::Deployment> FakeAgentApi::Status(const pb::StatusRequest& request,
                                              ctl::CancelToken& cancel) {
  if (auto e = Enter("Status", cancel)) return *e;
  auto s = Known(request.deployment_id());
  if (!s.ok()) return s.error();
  return (*s)->deployment;
}

OpResult<pb::HistoryReply> FakeAgentApi::History(const pb::HistoryRequest& request,
                                                 ctl::CancelToken& cancel) {
  if (auto e = Enter("History", cancel)) return *e;
  pb::HistoryReply r;
  int limit = request.limit() == 0 ? 20 : request.limit();
  for (auto it = deployments_.rbegin(); it != deployments_.rend() && r.deployments_size() < limit;
       ++it) {
    if (!request.project_id().empty() && it->deployment.project_id() != request.project_id()) {
      continue;
    }
    if (!request.environment().empty() && it->deployment.environment() != request.environment()) {
      continue;
    }
    pb::Deployment d = it->deployment;
    d.clear_logs();  // as the agent's history: without logs
    *r.add_deployments() = std::move(d);
  }
  return r;
}

OpResult<pb::FilesReply> FakeAgentApi::GetFiles(const pb::GetFilesRequest& request,
                                                ctl::CancelToken& cancel) {
  if (auto e = Enter("GetFiles", cancel)) return *e;
  auto s = Known(request.deployment_id());
  if (!s.ok()) return s.error();
  if (!(*s)->files_kept || !(*s)->deployment.restorable()) {
    return OpFail(OpFailure::kNotFound,
                  "the files of " + request.deployment_id() + " are no longer kept");
  }
  pb::FilesReply r;
  *r.mutable_deployment() = (*s)->deployment;
  AddFiles((*s)->files, &r);
  return r;
}

OpResult<std::map<std::string, FakeAgentApi::FakeEnvironment>*> FakeAgentApi::Environments(
    const std::string& project) {
  if (!environments_offered) {
    return OpFail(OpFailure::kPlatform,
                  "this platform does not offer environments (an extension of its API; see "
                  "docs/API_CONTRACTS.md)");
  }
  if (project.empty()) return OpFail(OpFailure::kUsage, "name the project");
  auto& envs = environments[project];
  if (envs.empty()) {
    envs["production"];
    envs["staging"];
  }
  return &envs;
}

OpResult<FakeAgentApi::FakeEnvironment*> FakeAgentApi::EnvironmentOf(const std::string& project,
                                                                     const std::string& name) {
  auto envs = Environments(project);
  if (!envs.ok()) return envs.error();
  auto it = (*envs)->find(name);
  if (it == (*envs)->end()) {
    return OpFail(OpFailure::kNotFound, "project " + project + " has no environment " + name);
  }
  return &it->second;
}

OpResult<pb::ListEnvironmentsReply> FakeAgentApi::ListEnvironments(
    const pb::ListEnvironmentsRequest& request, ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("ListEnvironments", cancel)) return *e;
  auto envs = Environments(request.project_id());
  if (!envs.ok()) return envs.error();
  pb::ListEnvironmentsReply r;
  r.set_project_id(request.project_id());
  for (const auto& [name, env] : **envs) {
    auto* e = r.add_environments();
    e->set_name(name);
    e->set_variables(static_cast<int64_t>(env.variables.size()));
    e->set_deployment_id(env.deployment_id);
    e->set_url(env.url);
  }
  return r;
}

OpResult<pb::AddEnvironmentReply> FakeAgentApi::AddEnvironment(
    const pb::AddEnvironmentRequest& request, ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("AddEnvironment", cancel)) return *e;
  auto envs = Environments(request.project_id());
  if (!envs.ok()) return envs.error();
  if (auto bad = contract::ValidateEnvironmentName(request.name()); !bad.ok()) {
    return OpFail(OpFailure::kUsage, bad.error().message);
  }
  if (!(*envs)->emplace(request.name(), FakeEnvironment{}).second) {
    return OpFail(OpFailure::kPlatform, "environment " + request.name() + " exists already");
  }
  pb::AddEnvironmentReply r;
  r.mutable_environment()->set_name(request.name());
  return r;
}

OpResult<pb::RemoveEnvironmentReply> FakeAgentApi::RemoveEnvironment(
    const pb::RemoveEnvironmentRequest& request, ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("RemoveEnvironment", cancel)) return *e;
  auto env = EnvironmentOf(request.project_id(), request.name());
  if (!env.ok()) return env.error();
  if (request.name() == "production") {
    return OpFail(OpFailure::kPlatform, "production cannot be removed");
  }
  environments[request.project_id()].erase(request.name());
  return pb::RemoveEnvironmentReply();
}

OpResult<pb::ListVariablesReply> FakeAgentApi::ListVariables(
    const pb::ListVariablesRequest& request, ctl::CancelToken& cancel) {
  last_list_variables = request;
  if (auto e = EnterLoggedIn("ListVariables", cancel)) return *e;
  auto env = EnvironmentOf(request.project_id(), request.environment());
  if (!env.ok()) return env.error();
  pb::ListVariablesReply r;
  r.set_project_id(request.project_id());
  r.set_environment(request.environment());
  for (const auto& [key, value] : (*env)->variables) {
    auto* v = r.add_variables();
    v->set_key(key);
    if (request.with_values() && !withheld_values.count(key)) {
      v->set_value(value);
      v->set_has_value(true);
    }
  }
  return r;
}

OpResult<pb::SetVariableReply> FakeAgentApi::SetVariable(const pb::SetVariableRequest& request,
                                                         ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("SetVariable", request, last_set, cancel)) return *e;
  auto env = EnvironmentOf(request.project_id(), request.environment());
  if (!env.ok()) return env.error();
  if (auto bad = contract::ValidateVariableKey(request.key()); !bad.ok()) {
    return OpFail(OpFailure::kUsage, bad.error().message);
  }
  (*env)->variables[request.key()] = request.value();
  pb::SetVariableReply r;
  r.set_key(request.key());
  r.set_environment(request.environment());
  return r;
}

OpResult<pb::UnsetVariableReply> FakeAgentApi::UnsetVariable(
    const pb::UnsetVariableRequest& request, ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("UnsetVariable", cancel)) return *e;
  auto env = EnvironmentOf(request.project_id(), request.environment());
  if (!env.ok()) return env.error();
  if ((*env)->variables.erase(request.key()) == 0) {
    return OpFail(OpFailure::kNotFound,
                  "no variable " + request.key() + " in " + request.environment());
  }
  return pb::UnsetVariableReply();
}

OpResult<pb::DeployReply> FakeAgentApi::Promote(const pb::PromoteRequest& request,
                                                ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("Promote", request, last_promote, cancel)) return *e;
  auto from = Known(request.deployment_id());
  if (!from.ok()) return from.error();
  const pb::Deployment& source = (*from)->deployment;
  auto env = EnvironmentOf(source.project_id(), request.environment());
  if (!env.ok()) return env.error();
  if (source.status() != "complete") {
    return OpFail(OpFailure::kPlatform, "only a complete deployment can be promoted; " +
                                            source.id() + " is " + source.status());
  }
  std::string promoted_of = source.id();
  contract::FileMap files = (*from)->files;
  Stored& s = Store(source.project_id(), files, outcome, hold, request.environment());
  s.deployment.set_promoted_of(promoted_of);
  return Deployed(s.deployment);
}

OpResult<pb::Domain*> FakeAgentApi::DomainOf(const std::string& project, const std::string& name) {
  if (!domains_offered) {
    return OpFail(OpFailure::kPlatform, "this platform does not offer custom domains");
  }
  auto& of = domains[project];
  auto it = of.find(name);
  if (it == of.end()) {
    return OpFail(OpFailure::kNotFound, "the platform answered 404: domain_not_found: no domain " +
                                            name + " in project " + project);
  }
  return &it->second;
}

OpResult<pb::AddDomainReply> FakeAgentApi::AddDomain(const pb::AddDomainRequest& request,
                                                     ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("AddDomain", request, last_add_domain, cancel)) return *e;
  if (!domains_offered) {
    return OpFail(OpFailure::kPlatform, "this platform does not offer custom domains");
  }
  std::string environment = request.environment().empty() ? "production" : request.environment();
  auto env = EnvironmentOf(request.project_id(), environment);
  if (!env.ok()) return env.error();
  auto& of = domains[request.project_id()];
  if (of.count(request.domain())) {
    return OpFail(OpFailure::kPlatform, "the platform answered 409: domain_exists");
  }
  pb::Domain& d = of[request.domain()];
  d.set_domain(request.domain());
  d.set_project_id(request.project_id());
  d.set_environment(environment);
  d.set_dns("pending");
  d.set_certificate("pending");
  auto* txt = d.add_records();
  txt->set_type("TXT");
  txt->set_name("_backend-im." + request.domain());
  txt->set_value("backend-im-verify=tok-1");
  auto* a = d.add_records();
  a->set_type("A");
  a->set_name(request.domain());
  a->set_value("127.0.0.1");
  pb::AddDomainReply r;
  *r.mutable_domain() = d;
  return r;
}

OpResult<pb::ListDomainsReply> FakeAgentApi::ListDomains(const pb::ListDomainsRequest& request,
                                                         ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("ListDomains", cancel)) return *e;
  if (!domains_offered) {
    return OpFail(OpFailure::kPlatform, "this platform does not offer custom domains");
  }
  pb::ListDomainsReply r;
  r.set_project_id(request.project_id());
  for (const auto& [name, d] : domains[request.project_id()]) {
    if (request.environment().empty() || d.environment() == request.environment()) {
      *r.add_domains() = d;
    }
  }
  return r;
}

OpResult<pb::VerifyDomainReply> FakeAgentApi::VerifyDomain(const pb::VerifyDomainRequest& request,
                                                           ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("VerifyDomain", cancel)) return *e;
  auto d = DomainOf(request.project_id(), request.domain());
  if (!d.ok()) return d.error();
  pb::VerifyDomainReply r;
  *r.mutable_domain() = **d;
  r.set_resolver("127.0.0.1:5353");
  return r;
}

OpResult<pb::RemoveDomainReply> FakeAgentApi::RemoveDomain(const pb::RemoveDomainRequest& request,
                                                           ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("RemoveDomain", cancel)) return *e;
  auto d = DomainOf(request.project_id(), request.domain());
  if (!d.ok()) return d.error();
  domains[request.project_id()].erase(request.domain());
  return pb::RemoveDomainReply();
}

OpResult<bool> FakeAgentApi::Watch(const pb::WatchRequest& request,
                                   std::optional<std::chrono::steady_clock::time_point> deadline,
                                   const StreamHooks& hooks, ctl::CancelToken& cancel) {
  if (auto e = Enter("Watch", cancel)) return *e;
  auto known = Known(request.deployment_id());
  if (!known.ok()) return known.error();
  const Stored* s = *known;
  for (const auto& notice : notices) {
    pb::DeploymentEvent n;
    n.set_deployment_id(request.deployment_id());
    n.set_notice(notice);
    hooks.on_message(n);
  }
  for (const auto& ev : s->events) {
    if (ev.seq() <= request.after_seq()) continue;
    if (hooks.before_wait) hooks.before_wait();
    hooks.on_message(ev);
    if (cancel.cancelled()) return ctl::OpCancelled();
  }
  if (s->deployment.terminal()) return false;
  // A deployment held half-way: its stream would go on until the deadline.
  if (deadline) return true;
  return OpFail(OpFailure::kAgent, "the fake agent holds this deployment, and no deadline was set");
}

pb::LogLine& FakeAgentApi::AddLogLine(const std::string& deployment_id, const std::string& level,
                                      const std::string& text) {
  auto& lines = app_logs[deployment_id];
  pb::LogLine l;
  l.set_seq(lines.empty() ? 1 : lines.back().seq() + 1);
  l.set_timestamp_unix_ms(now_ms_ + l.seq());
  l.set_level(level);
  l.set_source("app");
  l.set_text(text);
  lines.push_back(std::move(l));
  return lines.back();
}

template <typename Request>
OpResult<pb::GetLogsReply> FakeAgentApi::LogsOf(const Request& request, int tail) {
  if (!logs_offered) {
    return OpFail(OpFailure::kPlatform,
                  "this platform does not offer app logs (GET /api/deployments/ID/logs is 404); "
                  "`backend-im status ID` shows the deployment's own logs");
  }
  pb::GetLogsReply r;
  const Stored* chosen = nullptr;
  if (!request.deployment_id().empty()) {
    auto known = Known(request.deployment_id());
    if (!known.ok()) return known.error();
    chosen = *known;
  } else {
    const std::string env = request.environment().empty() ? "production" : request.environment();
    const Stored* newest = nullptr;
    for (auto it = deployments_.rbegin(); it != deployments_.rend(); ++it) {
      const auto& d = it->deployment;
      if (d.project_id() != request.project_id()) continue;
      if (!d.environment().empty() && d.environment() != env) continue;
      if (!newest) newest = &*it;
      if (d.status() == "complete") {
        chosen = &*it;
        r.set_chosen("the newest complete deployment of project " + d.project_id() + " (" + env +
                     ")");
        break;
      }
    }
    if (!chosen && newest) {
      chosen = newest;
      r.set_chosen("the newest deployment of project " + newest->deployment.project_id() + " (" +
                   env + "), which did not complete");
    }
    if (!chosen) {
      return OpFail(OpFailure::kNotFound, "no deployment of project " + request.project_id());
    }
  }
  pb::Deployment d = chosen->deployment;
  d.clear_logs();
  *r.mutable_deployment() = d;
  const auto& lines = app_logs[d.id()];
  r.set_cursor(lines.empty() ? 0 : lines.back().seq());
  r.set_first(lines.empty() ? 1 : lines.front().seq());
  auto level_rank = [](const std::string& l) {
    return l == "debug" ? 0 : l == "info" ? 1 : l == "warning" ? 2 : 3;
  };
  std::vector<pb::LogLine> matching;
  for (const auto& l : lines) {
    if (!request.level().empty() && level_rank(l.level()) < level_rank(request.level())) continue;
    if (request.since_unix_ms() > 0 && l.timestamp_unix_ms() < request.since_unix_ms()) continue;
    if (!request.grep().empty() && l.text().find(request.grep()) == std::string::npos) continue;
    matching.push_back(l);
  }
  size_t from = matching.size() > static_cast<size_t>(tail) ? matching.size() - tail : 0;
  for (size_t i = from; i < matching.size(); ++i) *r.add_lines() = matching[i];
  return r;
}

OpResult<pb::GetLogsReply> FakeAgentApi::GetLogs(const pb::GetLogsRequest& request,
                                                 ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("GetLogs", request, last_get_logs, cancel)) return *e;
  return LogsOf(request, request.tail() == 0 ? 100 : request.tail());
}

OpResult<bool> FakeAgentApi::FollowLogs(const pb::FollowLogsRequest& request, const LogHooks& hooks,
                                        ctl::CancelToken& cancel) {
  if (auto e = EnterLoggedIn("FollowLogs", request, last_follow_logs, cancel)) return *e;
  auto head = LogsOf(request, request.has_after_seq() ? 1000 : request.tail());
  if (!head.ok()) return head.error();
  pb::LogItem start;
  *start.mutable_start()->mutable_deployment() = head->deployment();
  start.mutable_start()->set_chosen(head->chosen());
  start.mutable_start()->set_cursor(request.has_after_seq() ? request.after_seq() : head->cursor());
  hooks.on_item(start);
  for (const auto& l : head->lines()) {
    if (request.has_after_seq() && l.seq() <= request.after_seq()) continue;
    pb::LogItem item;
    *item.mutable_line() = l;
    hooks.on_item(item);
  }
  for (const auto& item : follow_items) {
    if (hooks.before_wait) hooks.before_wait();
    hooks.on_item(item);
    if (item.has_end()) return true;
  }
  return ctl::OpCancelled();
}

Result<bool> FakeAgentApi::Running() {
  calls.push_back("Running");
  if (!refused.empty()) return Error{ErrorCode::kPermissionDenied, refused};
  return running;
}

std::optional<pb::AgentInfo> FakeAgentApi::RunningInfo() {
  calls.push_back("RunningInfo");
  if (!running || !refused.empty()) return std::nullopt;
  return info;
}

bim::Status FakeAgentApi::Stop(std::chrono::milliseconds) {
  calls.push_back("Stop");
  stopped = true;
  running = false;
  return {};
}

}  // namespace bim::test
