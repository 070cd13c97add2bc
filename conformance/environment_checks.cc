// ext.environments*: environments, variables and promote (docs/API_CONTRACTS.md §6.1), an
// extension, in the run's own project (its label). The first listing tells whether the platform
// has it: a 404 whose error code is none of the extension's (contract::IsEnvironmentsNotFoundCode)
// means it has not, and every check here says not-supported. The checks that write make one
// environment of a new name, set and unset one variable in it, deploy to it, promote the sample
// deployment to it and remove it (Context::CleanUp does, if no check did). The variable's value
// is a random one of the run's, and no detail or evidence shows it.

#include <algorithm>

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"
#include "conformance/deployment_observer.h"
#include "conformance/sample_project.h"

namespace bim::conformance {
namespace {

using nlohmann::json;

constexpr const char* kVariable = "CONFORMANCE_CHECK";

bool Is2xx(const Exchange& ex) { return ex.answer.status >= 200 && ex.answer.status < 300; }

// What the first listing says of the extension.
enum class Presence { kPresent, kAbsent, kUnclear };

Presence PresenceOf(const Exchange& list) {
  if (list.answer.status == 200 && contract::ParseEnvironmentList(list.answer.body).ok()) {
    return Presence::kPresent;
  }
  if (IsForeignNotFound(list, contract::IsEnvironmentsNotFoundCode)) return Presence::kAbsent;
  return Presence::kUnclear;
}

CheckResult Absent(const Exchange& list) {
  return ExtensionAbsent(list,
                         "environments, variables or promote (an extension); clients deploy to the "
                         "one place the seed knows");
}

// Runs judge() when the platform has the extension; otherwise not-supported, or skipped when
// the listing is something else (ext.environments says what).
template <typename Judge>
CheckResult WithEnvironments(Context& ctx, Judge judge) {
  const Exchange& list = ctx.EnvironmentsAnswer();
  switch (PresenceOf(list)) {
    case Presence::kPresent:
      return judge();
    case Presence::kAbsent:
      return Absent(list);
    case Presence::kUnclear:
      break;
  }
  return Skipped(
      "needs the list of environments, and it is not the extension's (see "
      "ext.environments)",
      {list.ToEvidence()});
}

// Runs judge(environment) with the run's environment once the platform made it.
template <typename Judge>
CheckResult WithEnvironment(Context& ctx, Judge judge) {
  return WithEnvironments(ctx, [&] {
    const MadeEnvironment* e = ctx.Environment();
    if (!e) return Skipped(ctx.why());
    if (!e->made) {
      return Skipped("needs the run's environment, and " + Answered(e->exchange) +
                         " (see ext.environments_create)",
                     {e->exchange.ToEvidence()});
    }
    if (e->removed) return Skipped("the run's environment " + Quoted(e->name) + " is removed");
    return judge(*e);
  });
}

std::vector<std::string> NamesOf(const contract::EnvironmentList& list) {
  std::vector<std::string> names;
  for (const auto& e : list.environments) names.push_back(e.name);
  return names;
}

// Whether a listing of the project's environments names name; nullopt when it is no listing.
std::optional<bool> Lists(const Exchange& list, const std::string& name) {
  auto parsed = contract::ParseEnvironmentList(list.answer.body);
  if (list.answer.status != 200 || !parsed.ok()) return std::nullopt;
  auto names = NamesOf(*parsed);
  return std::find(names.begin(), names.end(), name) != names.end();
}

// An exchange as evidence, the secret masked wherever the body has it.
Evidence Masked(Exchange ex, const std::string& secret, std::string note = "") {
  for (size_t at = ex.answer.body.find(secret); at != std::string::npos;
       at = ex.answer.body.find(secret, at)) {
    ex.answer.body.replace(at, secret.size(), "<redacted>");
  }
  return ex.ToEvidence(std::move(note));
}

// The variable of a listing of variables; nullopt when the answer is no listing.
std::optional<std::optional<contract::Variable>> VariableIn(const Exchange& ex,
                                                            const std::string& key) {
  auto parsed = contract::ParseVariableList(ex.answer.body);
  if (ex.answer.status != 200 || !parsed.ok()) return std::nullopt;
  for (const auto& v : parsed->variables) {
    if (v.key == key) return std::optional<contract::Variable>(v);
  }
  return std::optional<contract::Variable>();
}

CheckResult List(Context& ctx) {
  const Exchange& ex = ctx.EnvironmentsAnswer();
  if (PresenceOf(ex) == Presence::kAbsent) return Absent(ex);
  std::vector<std::string> problems;
  std::string names;
  if (ex.answer.status != 200) {
    problems.push_back(Answered(ex) + ", expected 200 with the project's environments");
  } else if (auto list = contract::ParseEnvironmentList(ex.answer.body); !list.ok()) {
    problems.push_back(list.error().message);
  } else {
    names = Join(NamesOf(*list), ", ");
    if (!Lists(ex, "production").value_or(false)) {
      problems.push_back("the project's environments have no production (they are: " +
                         (names.empty() ? std::string("none") : names) + ")");
    }
  }
  return ExtensionFromProblems(problems, {ex.ToEvidence()}, "environments: " + names);
}

CheckResult Create(Context& ctx) {
  return WithEnvironments(ctx, [&] {
    const MadeEnvironment* e = ctx.Environment();
    if (!e) return Skipped(ctx.why());
    std::vector<Evidence> evidence = {e->exchange.ToEvidence("a name of the run's own")};
    if (e->exchange.answer.status != 201) {
      return ExtensionFromProblems({Answered(e->exchange) + ", expected 201"}, evidence);
    }
    Exchange list = ctx.Get(ctx.EnvironmentsPath(), Auth::kToken, "after making " + e->name);
    evidence.push_back(list.ToEvidence());
    std::vector<std::string> problems;
    if (!Lists(list, e->name).value_or(false)) {
      problems.push_back("the project's environments do not show " + Quoted(e->name) +
                         " after it was made");
    }
    return ExtensionFromProblems(problems, evidence, "made " + Quoted(e->name));
  });
}

CheckResult Variables(Context& ctx) {
  return WithEnvironment(ctx, [&](const MadeEnvironment& e) {
    const std::string value = "conformance-" + ctx.NewId();
    const std::string path = ctx.EnvironmentsPath(e.name) + "/variables";
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    auto send = [&](Exchange ex) {
      evidence.push_back(Masked(ex, value));
      return ex;
    };
    Exchange set = send(ctx.PutJson(path + "/" + kVariable, json{{"value", value}}.dump(),
                                    "a value of the run's own"));
    if (set.answer.status != 200) {
      return ExtensionFromProblems({Answered(set) + ", expected 200"}, evidence);
    }
    if (set.answer.body.find(value) != std::string::npos) {
      problems.push_back(set.Line() + " sends the value back; the contract never does");
    }

    Exchange names = send(ctx.Get(path, Auth::kToken, "names only"));
    auto listed = VariableIn(names, kVariable);
    if (!listed) {
      problems.push_back(Answered(names) + " without the contract's list of variables");
    } else if (!*listed) {
      problems.push_back(names.Line() + " does not list " + kVariable);
    } else if ((*listed)->value || names.answer.body.find(value) != std::string::npos) {
      problems.push_back(names.Line() + " shows the value without ?values=true");
    }

    Exchange values = send(ctx.Get(path + "?values=true", Auth::kToken, "with values"));
    auto read = VariableIn(values, kVariable);
    if (!read) {
      problems.push_back(Answered(values) + " without the contract's list of variables");
    } else if (!*read || (*read)->value != value) {
      problems.push_back(values.Line() + " does not give " + kVariable + "'s value back");
    }

    Exchange unset = send(ctx.Delete(path + "/" + kVariable));
    if (unset.answer.status != 204) problems.push_back(Answered(unset) + ", expected 204");
    Exchange after = send(ctx.Get(path, Auth::kToken, "after the DELETE"));
    if (auto left = VariableIn(after, kVariable); left && *left) {
      problems.push_back(after.Line() + " still lists " + kVariable + " after the DELETE");
    }
    return ExtensionFromProblems(problems, evidence,
                                 std::string(kVariable) + " set in " + Quoted(e.name) +
                                     ", listed by name, read with ?values=true, unset");
  });
}

// Watches a deployment the check made to its end: problems when it did not complete.
std::vector<std::string> Completes(Context& ctx, const std::string& id, const std::string& what,
                                   std::vector<Evidence>& evidence) {
  Observation o = DeploymentObserver(ctx).Watch(id);
  if (!o.polls.empty()) evidence.push_back(o.polls.back().ToEvidence("its last poll"));
  auto final_body = FinalBody(o);
  if (!final_body) {
    return {what + " did not end within " +
            std::to_string(ctx.options().deploy_timeout.count() / 1000) + " s"};
  }
  if (StatusName(*final_body) == "complete") return {};
  auto logs = LogsOf(*final_body);
  return {what + " ended " + StatusName(*final_body) +
          (logs.empty() ? std::string() : ": " + logs.back())};
}

// The answer names an environment other than the one asked for.
std::vector<std::string> OtherEnvironment(const Exchange& ex, const std::string& name) {
  auto j = ex.Json();
  if (!j.is_object() || !j.contains("environment")) return {};
  auto named = StringField(j, "environment");
  if (named == name) return {};
  return {"the answer names environment " +
          (named ? Quoted(*named) : "of type " + JsonKind(j["environment"])) + ", not " +
          Quoted(name)};
}

CheckResult DeployTo(Context& ctx) {
  return WithEnvironment(ctx, [&](const MadeEnvironment& e) {
    if (!ctx.MayCreateDeployment()) return Skipped("the run reached its deployment cap");
    const std::string& label = ctx.options().label;
    Exchange ex =
        ctx.PostJson("/api/deploy",
                     contract::ToJson(contract::DeployRequest{SampleProject(label), label, e.name}),
                     Auth::kToken, {{"Idempotency-Key", ctx.NewId()}}, "to environment " + e.name);
    std::vector<Evidence> evidence = {ex.ToEvidence()};
    auto id = StringField(ex.Json(), "deploymentId");
    if (ex.answer.status != 200 || !id) {
      return ExtensionFromProblems({Answered(ex) + ", expected 200 with a deploymentId"}, evidence);
    }
    ctx.NoteDeployment(*id);
    auto problems = OtherEnvironment(ex, e.name);
    // Watched to its end, so the environment is not removed under it.
    auto ended = Completes(ctx, *id, "the deployment to " + e.name, evidence);
    problems.insert(problems.end(), ended.begin(), ended.end());
    return ExtensionFromProblems(
        problems, evidence,
        "deployment " + *id + " to " + Quoted(e.name) + " completed; the answer " +
            (ex.Json().contains("environment") ? "names it" : "names no environment"));
  });
}

CheckResult Promote(Context& ctx) {
  return WithEnvironment(ctx, [&](const MadeEnvironment& e) {
    const Observation* o = ctx.Watch();
    if (!o) return NoDeployment(ctx);
    auto final_body = FinalBody(*o);
    if (!final_body || StatusName(*final_body) != "complete") {
      return Skipped("needs the sample deployment complete, and it is not (see deploy.completes)");
    }
    if (!ctx.MayCreateDeployment()) return Skipped("the run reached its deployment cap");
    const CreatedDeployment& d = *ctx.Deployment();
    Exchange ex = ctx.PostJson("/api/deployments/" + contract::PercentEncode(d.id) + "/promote",
                               contract::ToJson(contract::PromoteRequest{e.name}), Auth::kToken,
                               {{"Idempotency-Key", ctx.NewId()}}, "to environment " + e.name);
    std::vector<Evidence> evidence = {ex.ToEvidence()};
    if (ex.answer.status != 200) {
      return ExtensionFromProblems(
          {Answered(ex) + ", expected 200 with a new deployment of the same commit"}, evidence);
    }
    auto problems = shapes::DeployAnswer().CheckBody(ex.answer.body);
    auto j = ex.Json();
    auto id = StringField(j, "deploymentId");
    if (id && *id == d.id) {
      problems.push_back("the answer names the sample deployment " + Quoted(d.id) +
                         ", not a new one");
    }
    auto commit = StringField(j, "commitHash");
    auto source_commit = StringField(d.answer, "commitHash");
    if (commit && source_commit && commit != source_commit) {
      problems.push_back("commitHash " + Quoted(*commit) + " is not the sample deployment's " +
                         Quoted(*source_commit));
    }
    auto other = OtherEnvironment(ex, e.name);
    problems.insert(problems.end(), other.begin(), other.end());
    if (id && *id != d.id) {
      ctx.NoteDeployment(*id);
      auto ended = Completes(ctx, *id, "the promoted deployment", evidence);
      problems.insert(problems.end(), ended.begin(), ended.end());
    }
    return ExtensionFromProblems(problems, evidence,
                                 "deployment " + id.value_or("") + " of commit " +
                                     commit.value_or("") + " completed in " + Quoted(e.name));
  });
}

CheckResult ProductionProtected(Context& ctx) {
  return WithEnvironments(ctx, [&] {
    Exchange ex = ctx.Delete(ctx.EnvironmentsPath("production"), "production");
    std::vector<Evidence> evidence = {ex.ToEvidence()};
    auto code = StringField(ex.Json(), "error");
    if (ex.answer.status == 409 && code == "environment_protected") {
      return Pass("refused with 409 environment_protected", evidence);
    }
    return ExtensionFromProblems(
        {Answered(ex) + (code ? " (error " + Quoted(*code) + ")" : std::string()) +
         ", expected 409 environment_protected" +
         (Is2xx(ex) ? "; production of project " + ctx.options().label + " is gone"
                    : std::string())},
        evidence);
  });
}

CheckResult Remove(Context& ctx) {
  return WithEnvironment(ctx, [&](const MadeEnvironment& e) {
    Exchange ex = ctx.Delete(ctx.EnvironmentsPath(e.name));
    std::vector<Evidence> evidence = {ex.ToEvidence()};
    if (Is2xx(ex)) ctx.NoteEnvironmentRemoved();
    if (ex.answer.status != 204) {
      return ExtensionFromProblems({Answered(ex) + ", expected 204"}, evidence);
    }
    Exchange list = ctx.Get(ctx.EnvironmentsPath(), Auth::kToken, "after removing " + e.name);
    evidence.push_back(list.ToEvidence());
    std::vector<std::string> problems;
    auto still = Lists(list, e.name);
    if (!still) {
      problems.push_back(Answered(list) + " without the contract's list of environments");
    } else if (*still) {
      problems.push_back("the project's environments still show " + Quoted(e.name) +
                         " after it was removed");
    }
    return ExtensionFromProblems(problems, evidence, "removed " + Quoted(e.name));
  });
}

}  // namespace

std::vector<Check> EnvironmentChecks() {
  return {
      NeedsToken("ext.environments",
                 "Extension: GET /api/projects/{projectId}/environments lists the run's project's "
                 "environments, production among them",
                 List),
      Creates("ext.environments_create",
              "Extension: POST /api/projects/{projectId}/environments makes an environment of a "
              "new name (201), which the list then shows",
              Create),
      Creates("ext.environments_variables",
              "Extension: a variable PUT in an environment is listed by name, its value only "
              "with ?values=true, and DELETE unsets it (204)",
              Variables),
      Creates("ext.environments_deploy",
              "Extension: a deploy that names the environment completes, and its answer names no "
              "other environment",
              DeployTo),
      Creates("ext.environments_promote",
              "Extension: POST /api/deployments/{id}/promote of the sample deployment to the "
              "environment makes a new deployment of the same commitHash, which completes",
              Promote),
      Creates("ext.environments_protected",
              "Extension: DELETE of production is refused with 409 environment_protected",
              ProductionProtected),
      Creates("ext.environments_delete",
              "Extension: DELETE of the run's environment answers 204, and the list then no "
              "longer shows it",
              Remove),
  };
}

}  // namespace bim::conformance
