#pragma once
// The seam between the agent's core and the desktop: told when a deployment that this agent
// created ends, so that a person who started it and switched windows hears about it; and when
// the certificate of a custom domain added through this agent is issued or fails, which may be
// minutes after the person last looked.
//
// Agent calls Notify on whichever thread stored the deployment's end (a watcher's, or the
// deploy call's worker), once per deployment: the store decides in one transaction that an
// event is the deployment's end, and only the agent that stored it calls Notify. An
// implementation must therefore return at once and never fail the caller: delivery is best
// effort. The real one is DesktopNotifier (sd-bus, on a thread of its own); unit tests use
// tests/support/fake_notifier.h.

#include <string>

#include "common/contract.h"

namespace bim::daemon {

// A deployment that ended, as the notice tells it. Text comes from the platform: a notifier
// shows it as text, never as markup.
struct DeploymentEnd {
  std::string deployment_id;
  std::string project_id;
  contract::Stage outcome = contract::Stage::kComplete;  // kComplete or kFailed
  std::string url;                                       // complete: the URL, when one was kept
  // failed: the last stage reached before the failure ("" when no earlier stage is stored), and
  // the last log line when it is short ("" otherwise).
  std::string failed_stage;
  std::string last_log_line;
};

// A custom domain whose certificate the platform issued, or could not issue: it now serves
// (or will not serve) the environment over https. Text comes from the platform, as above.
struct DomainCertificateEnd {
  std::string domain;
  std::string project_id;
  std::string environment;
  contract::CertificateState outcome = contract::CertificateState::kIssued;  // issued or failed
  std::string detail;  // failed: why, as the platform said it
};

// What the desktop shows. The body is escaped for notification servers that read it as markup.
struct DesktopNotice {
  std::string summary;
  std::string body;
};

// "Deployment complete: PROJECT" with the URL, or "Deployment failed: PROJECT" with the stage
// and the last log line. Pure.
DesktopNotice NoticeFor(const DeploymentEnd& end);

// "Domain ready: DOMAIN" with what it serves, or "Certificate failed: DOMAIN" with why. Pure.
DesktopNotice NoticeFor(const DomainCertificateEnd& end);

// The longest log line a notice quotes; a longer one is left out rather than cut.
inline constexpr size_t kMaxNoticeLogLine = 160;

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Returns at once; see the contract above.
  virtual void Notify(const DeploymentEnd& end) = 0;
  // The same for a custom domain's certificate: once per domain added through this agent
  // (DomainChecker decides, with the store).
  virtual void Notify(const DomainCertificateEnd& end) = 0;
};

}  // namespace bim::daemon
