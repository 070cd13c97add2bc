#pragma once
// What the agent and its clients agree on beyond proto/backend_im/v1/agent.proto: the gRPC
// metadata keys. One place, so the two sides cannot drift apart.

namespace bim::wire {

// Initial metadata of every reply: the agent's version, for version skew.
inline constexpr const char* kVersionKey = "x-backend-im-agent-version";
// Initial metadata: "1" when a ctl started the agent on demand (it may be restarted on skew).
inline constexpr const char* kAutostartedKey = "x-backend-im-agent-autostarted";
// Trailing metadata of a failed call: the bim::ErrorCode name (ErrorCodeName) of the failure
// behind it, present when the agent (not the transport) failed the call.
inline constexpr const char* kErrorCodeKey = "x-backend-im-error-code";

}  // namespace bim::wire
