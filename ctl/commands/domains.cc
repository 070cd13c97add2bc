// backend-im domains [ls] | add DOMAIN | verify DOMAIN | rm DOMAIN [--yes]
//   [-d DIR | --project ID] [--env NAME]
#include <unistd.h>

#include <algorithm>

#include "ctl/commands/command.h"
#include "ctl/models.h"
#include "ctl/terminal_input.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

// The project a command names (its folder, default the current one, or --project) and, for add
// and ls, the environment.
struct DomainArgs {
  std::string dir = ".";
  std::string project;
  std::string env;
};

void AddProjectOptions(CommandLine& cli, CLI::App* cmd, DomainArgs& a) {
  cli.Option(cmd, "-d,--dir", a.dir);
  cli.Option(cmd, "--project", a.project);
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out.empty() ? "nothing" : out;
}

// The width of the widest of a column's values, at least its heading's.
template <typename Get>
size_t Width(const pb::Domain& d, std::string_view heading, Get get) {
  size_t w = heading.size();
  for (const auto& r : d.records()) w = std::max(w, terminal::Escape(get(r)).size());
  return std::min<size_t>(w, 72);
}

int List(CommandContext& c, const DomainArgs& a) {
  auto list = c.ops().Domains(a.dir, a.project, a.env, c.cancel());
  if (!list.ok()) return c.Failed(list.error(), "domains");
  if (c.json()) {
    PrintJson(DomainsModel(*list));
    return kExitOk;
  }
  Print("Custom domains of project {}\n", list->project_id());
  if (list->domains().empty()) {
    Print("  (none; add one with: backend-im domains add DOMAIN)\n");
    return kExitOk;
  }
  Print("{:<40}  {:<12}  {:<8}  {:<11}  {}\n", "DOMAIN", "ENVIRONMENT", "DNS", "CERTIFICATE",
        "DETAIL");
  for (const pb::Domain& d : list->domains()) {
    Print("{:<40}  {:<12}  {:<8}  {:<11}  {}\n", d.domain(), d.environment(), d.dns(),
          d.certificate(), d.detail().empty() ? "-" : d.detail());
  }
  return kExitOk;
}

// The records to create, one a line under a heading.
void PrintRecords(const pb::Domain& d) {
  size_t type_w = Width(d, "TYPE", [](const pb::DnsRecord& r) { return r.type(); });
  size_t name_w = Width(d, "NAME", [](const pb::DnsRecord& r) { return r.name(); });
  Print("  {:<{}}  {:<{}}  {}\n", "TYPE", type_w, "NAME", name_w, "VALUE");
  for (const auto& r : d.records()) {
    Print("  {:<{}}  {:<{}}  {}\n", r.type(), type_w, r.name(), name_w, r.value());
  }
}

int Add(CommandContext& c, const DomainArgs& a, const std::string& domain) {
  auto added = c.ops().AddDomain(a.dir, a.project, domain, a.env, c.cancel());
  if (!added.ok()) return c.Failed(added.error(), "domains add " + domain);
  if (c.json()) {
    PrintJson(DomainModel(*added));
    return kExitOk;
  }
  Print("{} Added domain {} to project {} ({}). Create these DNS records at your DNS provider:\n",
        c.style().Green("✓"), added->domain(), added->project_id(), added->environment());
  PrintRecords(*added);
  Print(
      "Then check them with: backend-im domains verify {}\nThe agent checks the certificate "
      "meanwhile and shows a desktop notice when it is issued or fails.\n",
      added->domain());
  return kExitOk;
}

int Verify(CommandContext& c, const DomainArgs& a, const std::string& domain) {
  const std::string what = "domains verify " + domain;
  auto v = c.ops().VerifyDomain(a.dir, a.project, domain, c.cancel());
  if (!v.ok()) return c.Failed(v.error(), what);
  const pb::Domain& d = v->domain();
  const bool valid = d.dns() == "valid";
  if (c.json()) {
    PrintJson(DomainVerifyModel(*v));
  } else {
    Print("Domain {} (project {}, {}): dns {}, certificate {}\n", d.domain(), d.project_id(),
          d.environment(), d.dns(), d.certificate());
    if (!d.detail().empty()) Print("  {}\n", d.detail());
    for (const auto& r : d.records()) {
      Print("{} {} {}\n", (r.checked() && r.ok()) ? c.style().Green("✓") : c.style().Red("✗"),
            r.type(), r.name());
      Print("    expected:       {}\n", r.value());
      if (r.agent_checked()) {
        Print("    agent found:    {}{}\n", Joined(r.agent_found()),
              r.agent_ok() || r.agent_found().empty() ? "" : " (not the value asked for)");
      } else {
        Print("    agent found:    (no answer: {})\n", r.agent_error());
      }
      Print("    platform found: {}\n",
            r.checked() ? Joined(r.found()) : std::string("(not looked up yet)"));
    }
    if (!v->resolver().empty()) Print("The agent asked {}.\n", v->resolver());
  }
  if (valid) {
    if (!c.json()) {
      Print("{} The platform found every record. {}\n", c.style().Green("✓"),
            d.certificate() == "issued" ? "The certificate is issued."
            : d.certificate() == "failed"
                ? "The certificate failed; see above."
                : "The certificate comes next: the agent shows a desktop notice then.");
    }
    return kExitOk;
  }
  for (const std::string& advice : DomainAdvice(d)) {
    PrintErr("backend-im: {}: {}\n", what, advice);
  }
  return kExitDomainNotValid;
}

int Remove(CommandContext& c, const DomainArgs& a, const std::string& domain, bool yes) {
  const std::string what = "domains rm " + domain;
  // A name that is not one is refused before anyone is asked.
  auto name = Operations::DomainName(domain);
  if (!name.ok()) return c.Failed(name.error(), what);
  if (!yes) {
    if (!IsTerminal(STDIN_FILENO)) {
      return c.Failed(OpFail(OpFailure::kUsage,
                             "removing a domain stops it serving the app; standard input is not "
                             "a terminal to ask on, so pass --yes to remove it"),
                      what);
    }
    auto sure = AskYesNo(STDIN_FILENO, Terminal("Remove domain {} of {}? [y/N] ", *name,
                                                a.project.empty() ? "this folder's project"
                                                                  : "project " + a.project));
    if (!sure.ok()) return c.Failed(sure.error(), what);
    if (!*sure) {
      PrintErr("Nothing was removed.\n");
      return kExitUsage;
    }
  }
  auto removed = c.ops().RemoveDomain(a.dir, a.project, *name, c.cancel());
  if (!removed.ok()) return c.Failed(removed.error(), what);
  if (c.json()) {
    PrintJson(DomainChangeModel(*removed));
  } else {
    Print("{} Removed domain {} from project {}\n", c.style().Green("✓"), removed->domain,
          removed->project_id);
  }
  return kExitOk;
}

}  // namespace

void AddDomainsCommand(CommandLine& cli) {
  // Alone it lists, as `domains ls` does.
  auto* domains = cli.Add("domains");
  auto& listed = cli.Value<DomainArgs>();
  AddProjectOptions(cli, domains, listed);
  cli.Option(domains, "--env", listed.env);
  cli.OnRun(domains, [&listed](CommandContext& c) { return List(c, listed); });

  auto* ls = cli.Add("domains ls");
  auto& ls_args = cli.Value<DomainArgs>();
  AddProjectOptions(cli, ls, ls_args);
  cli.Option(ls, "--env", ls_args.env);
  cli.OnRun(ls, [&ls_args](CommandContext& c) { return List(c, ls_args); });

  auto* add = cli.Add("domains add");
  auto& add_args = cli.Value<DomainArgs>();
  auto& add_domain = cli.Value<std::string>();
  cli.Option(add, "domain", add_domain)->required();
  AddProjectOptions(cli, add, add_args);
  cli.Option(add, "--env", add_args.env);
  cli.OnRun(add,
            [&add_args, &add_domain](CommandContext& c) { return Add(c, add_args, add_domain); });

  auto* verify = cli.Add("domains verify");
  auto& verify_args = cli.Value<DomainArgs>();
  auto& verify_domain = cli.Value<std::string>();
  cli.Option(verify, "domain", verify_domain)->required();
  AddProjectOptions(cli, verify, verify_args);
  cli.OnRun(verify, [&verify_args, &verify_domain](CommandContext& c) {
    return Verify(c, verify_args, verify_domain);
  });

  auto* rm = cli.Add("domains rm");
  auto& rm_args = cli.Value<DomainArgs>();
  auto& rm_domain = cli.Value<std::string>();
  bool& yes = cli.Value<bool>();
  cli.Option(rm, "domain", rm_domain)->required();
  AddProjectOptions(cli, rm, rm_args);
  cli.Flag(rm, "--yes", yes);
  cli.OnRun(rm, [&rm_args, &rm_domain, &yes](CommandContext& c) {
    return Remove(c, rm_args, rm_domain, yes);
  });
}

}  // namespace bim::ctl
