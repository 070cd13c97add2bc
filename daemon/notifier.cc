#include "daemon/notifier.h"

#include <fmt/format.h>

#include "common/markup_escape.h"
#include "common/terminal_text.h"

namespace bim::daemon {

DesktopNotice NoticeFor(const DeploymentEnd& end) {
  const bool complete = end.outcome == contract::Stage::kComplete;
  std::string project =
      terminal::Escape(end.project_id.empty() ? end.deployment_id : end.project_id);
  DesktopNotice n;
  n.summary = fmt::format("Deployment {}: {}", complete ? "complete" : "failed", project);
  std::string body;
  if (complete) {
    body = end.url.empty() ? "Complete, but without a URL: backend-im status " + end.deployment_id
                           : end.url;
  } else {
    body = end.failed_stage.empty() ? "Failed" : "Failed at " + end.failed_stage;
    if (!end.last_log_line.empty()) body += ": " + end.last_log_line;
  }
  // Servers that announce body-markup read the body as markup.
  n.body = EscapeMarkupText(terminal::Escape(body));
  return n;
}

DesktopNotice NoticeFor(const DomainCertificateEnd& end) {
  const bool issued = end.outcome == contract::CertificateState::kIssued;
  std::string domain = terminal::Escape(end.domain);
  DesktopNotice n;
  n.summary = fmt::format("{}: {}", issued ? "Domain ready" : "Certificate failed", domain);
  std::string body;
  if (issued) {
    body = fmt::format("https://{} serves {} of project {}", end.domain,
                       end.environment.empty() ? "production" : end.environment, end.project_id);
  } else {
    body = end.detail.empty() ? "The platform gave no reason: backend-im domains ls" : end.detail;
  }
  n.body = EscapeMarkupText(terminal::Escape(body));
  return n;
}

}  // namespace bim::daemon
