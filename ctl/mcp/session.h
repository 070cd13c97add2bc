#pragma once
// Session: MCP's lifecycle and its two eras, as a Handler of the Connection. The legacy era
// (2024-11-05 to 2025-11-25) negotiates a version once with initialize and serves ping and
// tools/list itself; the modern era (2026-07-28) has no handshake: each request names its
// version and the client's capabilities in params._meta, checked here, and server/discover
// describes the server. Each request is routed by its era's rules, to a -32601 when the era has
// no such method; tools/call, the task methods, cancels and responses to requests of ours go on
// to a CallHandler (the server).
//
// Threads: every method runs on the connection's reading thread, the only one that touches the
// session's state, so that state needs no lock. tools and calls are borrowed.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ctl/mcp/connection.h"
#include "ctl/mcp/protocol.h"
#include "ctl/mcp/tool_provider.h"

namespace bim::ctl::mcp {

// What the session routes on rather than serves.
class CallHandler {
 public:
  virtual ~CallHandler() = default;
  // tools/call, whose params are an object, in ctx's era.
  virtual Outcome ToolsCall(const nlohmann::json& id, const nlohmann::json& params,
                            const RequestContext& ctx) = 0;
  // A tasks/* request of an era that has tasks.
  virtual Outcome TaskRequest(const nlohmann::json& id, const std::string& method,
                              const nlohmann::json& params, const RequestContext& ctx) = 0;
  // notifications/cancelled for request_id (a valid id).
  virtual void Cancel(const nlohmann::json& request_id, const std::string& reason) = 0;
  // A response from the client; false when no request of ours has its id.
  virtual bool TakeResponse(const nlohmann::json& response) = 0;
};

class Session final : public Handler {
 public:
  // How long clients may cache server/discover and a 2026-07-28 tools/list.
  static constexpr int64_t kDiscoverTtlMs = 60 * 60 * 1000;

  Session(McpToolProvider& tools, const McpServerInfo& info, CallHandler& calls)
      : tools_(tools), info_(info), calls_(calls) {}

  Outcome HandleRequest(const nlohmann::json& id, const std::string& method,
                        const nlohmann::json& params, bool in_batch) override;
  void HandleNotification(const std::string& method, const nlohmann::json& params) override;
  bool HandleResponse(const nlohmann::json& response) override {
    return calls_.TakeResponse(response);
  }
  // Batches are served under 2025-03-26 and 2024-11-05 only, whose spec requires receiving them.
  std::optional<std::string> BatchRefusal() const override;

 private:
  Outcome Initialize(const nlohmann::json& id, const nlohmann::json& params, bool in_batch);
  nlohmann::json InitializeResult(const std::string& version) const;
  // A request of the legacy era, other than initialize.
  Outcome HandleLegacyRequest(const nlohmann::json& id, const std::string& method,
                              const nlohmann::json& params);
  // 2026-07-28: a request whose _meta names the version, or server/discover.
  Outcome HandleModernRequest(const nlohmann::json& id, const std::string& method,
                              const nlohmann::json& params);
  // The 2026-07-28 context of params, or the error that refuses it.
  std::optional<nlohmann::json> CheckModernMeta(const nlohmann::json& id, const std::string& method,
                                                const nlohmann::json& params,
                                                RequestContext& ctx) const;
  nlohmann::json Discover() const;

  McpToolProvider& tools_;
  const McpServerInfo& info_;
  CallHandler& calls_;
  bool initialized_ = false;  // initialize was answered
  std::string protocol_version_;
  nlohmann::json client_capabilities_ = nlohmann::json::object();  // initialize's
};

}  // namespace bim::ctl::mcp
