#pragma once
// N concurrent Watch streams on one deployment, as gRPC callback clients in this process
// (one channel, and so one connection, per 100 streams). Each stream records every event it
// receives with the wall-clock time it arrived, for latency and completeness checks.
//
// Thread-safety: gRPC threads fill the receipts; read them only after WaitDone returned true.
// Ready() and Done() may be polled from any thread.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend_im/v1/agent.grpc.pb.h"

namespace bim::bench {

struct Receipt {
  int64_t seq = 0;
  std::string status;
  int64_t received_unix_us = 0;
  int64_t agent_received_unix_ms = 0;  // the event's received_at_unix_ms (agent side)
};

struct StreamResult {
  std::vector<Receipt> receipts;
  grpc::Status status;
};

class WatchClients {
 public:
  WatchClients(const std::string& socket_path, const std::string& deployment_id, int streams);
  ~WatchClients();

  int Ready() const { return ready_.load(); }  // streams that received at least one event
  int Done() const { return done_.load(); }
  bool WaitDone(std::chrono::milliseconds timeout);
  // Cancels the streams still open and waits for them to end.
  void CancelAll();
  const std::vector<StreamResult>& results() const { return results_; }

 private:
  class Stream;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<backend_im::v1::Agent::Stub>> stubs_;
  std::vector<StreamResult> results_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::atomic<int> ready_{0};
  std::atomic<int> done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

int64_t NowUnixUs();

}  // namespace bim::bench
