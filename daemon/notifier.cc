#include "daemon/notifier.h"

#include <fmt/format.h>

#include "common/terminal_text.h"

namespace bim::daemon {
namespace {

// Servers that announce "body-markup" read the body as a small subset of XML.
std::string EscapeMarkup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

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
  n.body = EscapeMarkup(terminal::Escape(body));
  return n;
}

}  // namespace bim::daemon
