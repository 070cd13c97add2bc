#pragma once
// RuntimeLogs: the embedded platform's runtime logs of every deployment (docs/API_CONTRACTS.md
// §6.2). It numbers what each deployment's app prints (AppOutput from the AppSupervisor) into
// the deployment's LogBook, classified by ClassifyLine, with "platform" lines when the app starts
// and ends; answers the pages of GET /api/deployments/{id}/logs; and streams the lines to the
// followers of /ws/logs.
//
// A follower reads from the book with a cursor of its own, so a slow one never slows the app
// nor the others: it is sent lines only while less than kMaxQueuedBytes wait in its session's
// queue, and catches up from the book once that drained. Lines that left the book before it got
// them are one "skipped" message. Its memory is therefore the book's (bounded) plus at most
// about twice kMaxQueuedBytes per follower. Once the app ended and the follower has every line,
// it gets "end" and the stream closes (1000); a deployment that will never run an app ends at
// once.
//
// Threading: not thread-safe; every method runs on the server's io thread, as the server's
// handlers and timers do. The supervisor's reports reach it as posts to that thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/contract.h"
#include "mock-api/app_supervisor.h"
#include "mock-api/log_book.h"
#include "ws/http_ws_server.h"

namespace bim::mock {

class RuntimeLogs {
 public:
  // What a follower's session may hold queued before no more lines are queued for it.
  static constexpr size_t kMaxQueuedBytes = 1u << 20;

  explicit RuntimeLogs(ws::HttpWsServer& server) : server_(server) {}

  // A new deployment: its logs are empty, and it may still run an app.
  void Add(const std::string& deployment);
  // The deployment will never run an app (none was started, and none will be): its streams end
  // with reason. Does nothing once an app was started (its own end ends them).
  void NoApp(const std::string& deployment, const std::string& reason);
  // What its app printed or did, read at timestamp (Unix ms).
  void OnOutput(AppOutput out, int64_t timestamp);

  // A page of a deployment Add()ed; its deploymentId is set.
  contract::LogPage Page(const std::string& deployment, const LogQuery& query) const;

  // Streams the lines after `after` (unset: from the next one printed) of a deployment Add()ed,
  // then each new one, then the end.
  void Follow(const std::shared_ptr<ws::WsSession>& session, const std::string& deployment,
              std::optional<int64_t> after);
  void Unfollow(uint64_t session_id);
  // Drops every open stream without a close frame (an outage begins).
  void DropAll();
  // Open streams of a deployment (GET /mock/deployments).
  size_t Streams(const std::string& deployment) const;

 private:
  struct Follower {
    std::shared_ptr<ws::WsSession> session;
    int64_t next = 1;      // seq of the next line it gets
    bool waiting = false;  // its queue is full: a timer looks again
  };
  struct Entry {
    LogBook book;
    bool in_traceback = false;  // the app's last line left a Python traceback open
    bool app_started = false;
    bool ended = false;  // no line will come any more
    std::string end_reason;
    std::vector<Follower> followers;
  };

  void End(Entry& e, const std::string& reason);
  void PumpAll(const std::string& deployment, Entry& e);
  // Sends f what it may have now; the end once it has everything.
  void Pump(const std::string& deployment, Entry& e, Follower& f);
  void WaitForRoom(const std::string& deployment, Follower& f);

  ws::HttpWsServer& server_;
  std::map<std::string, Entry> entries_;      // by deployment id
  std::map<uint64_t, std::string> followed_;  // session id -> deployment id
};

}  // namespace bim::mock
