#pragma once
// Events for the store's tests, as the platform would report them, by the stage's name.

#include <optional>
#include <string>
#include <vector>

#include "common/contract.h"
#include "daemon/deployment_store.h"

namespace bim::test {

inline daemon::NewEvent Ev(const std::string& status, std::vector<std::string> logs,
                           const std::string& url, daemon::EventSource source,
                           std::optional<int64_t> upstream_seq) {
  daemon::NewEvent e;
  e.event.status = contract::ParseStage(status).value();
  e.event.logs = std::move(logs);
  if (!url.empty()) e.event.url = url;
  e.source = source;
  e.upstream_seq = upstream_seq;
  return e;
}

}  // namespace bim::test
