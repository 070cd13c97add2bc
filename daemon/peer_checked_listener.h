#pragma once
// The agent's Unix socket, accepted by us rather than by gRPC, so each connection's peer can be
// checked before gRPC sees a byte: gRPC C++ does not expose the peer's uid (grpc/grpc#15511).
// A connection whose SO_PEERCRED uid is not the agent's own is logged and closed; the others
// are handed to the server with grpc::AddInsecureChannelFromFd. The 0700 socket folder is the
// first defence; this is the second, for systems that ignore permissions on the path.
//
// Threading: Start() runs the accept loop on a thread of its own; Stop() ends it (thread-safe).

#include <grpcpp/server.h>
#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>

#include "common/result.h"

namespace bim::daemon {

class PeerCheckedListener {
 public:
  // Binds and listens at path (mode 0600). The caller holds the instance lock.
  static Result<std::unique_ptr<PeerCheckedListener>> Listen(const std::string& path);
  ~PeerCheckedListener();

  void Start(grpc::Server* server);
  void Stop();
  uint64_t refused() const { return refused_; }
  // Removes the socket file at the path, unless it is no longer the one bound here: when the
  // agent's files were deleted under it, the next agent may have bound the same path since, and
  // removing that one would cut it off from every client.
  void RemoveSocket() const;

 private:
  PeerCheckedListener(int fd, int wake_read, int wake_write, std::string path, dev_t dev, ino_t ino)
      : fd_(fd),
        wake_read_(wake_read),
        wake_write_(wake_write),
        path_(std::move(path)),
        dev_(dev),
        ino_(ino) {}
  void Loop(grpc::Server* server);

  int fd_;
  int wake_read_;
  int wake_write_;
  std::string path_;
  dev_t dev_;  // the socket file bound at path_
  ino_t ino_;
  std::thread thread_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace bim::daemon
