#pragma once
// Following a deployment live until it ends: `backend-im watch`, and `deploy --watch`,
// `rollback --watch` and `promote --watch` once they started one (ctl/commands/watch.cc).

#include <string>

#include "ctl/commands/command.h"

namespace bim::ctl {

// Prints each event as it arrives (one JSON line each with --json) and the outcome; Ctrl-C
// detaches (exit 130). The exit code: 0 deployed, 1 failed, or the failure's.
int FollowDeployment(CommandContext& c, const std::string& id);

// The exit code for a deployment as it stands: 0 unless it ended badly; 1 when it failed; the
// platform error's (printed) when it is complete without a usable URL.
int OutcomeExitCode(const CommandContext& c, const backend_im::v1::Deployment& d,
                    const std::string& what);

// After a deploy, rollback or promote started d (and said what it started, as text): shows it
// (model with --json, else its id and commit), then follows it when `watch`, else says how to.
int Started(CommandContext& c, const backend_im::v1::Deployment& d, const nlohmann::json& model,
            bool watch);

}  // namespace bim::ctl
