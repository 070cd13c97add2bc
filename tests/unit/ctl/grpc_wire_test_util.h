#pragma once
// What both grpc_wire test files share: gRPC C++'s own client of the test service, to compare our
// client's results with, and small helpers. Test code: failures are doctest's REQUIREs.

#include <dirent.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "ctl/grpc_wire.h"
#include "unit/ctl/wire_test.grpc.pb.h"

namespace bim::test::wire {

namespace wire = bim::ctl::wire;
// The test service's messages, by the names both files use.
using bim::wiretest::Reply;
using bim::wiretest::Request;

constexpr char kEcho[] = "/bim.wiretest.WireTest/Echo";
constexpr char kStream[] = "/bim.wiretest.WireTest/Stream";

// gRPC C++'s client of the same socket, as the reference for what a client should report.
inline std::unique_ptr<bim::wiretest::WireTest::Stub> GrpcStub(const std::string& socket_path,
                                                               int max_receive_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_receive_bytes);
  args.SetMaxSendMessageSize(-1);
  return bim::wiretest::WireTest::NewStub(
      grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args));
}

inline wire::Metadata ToMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
  wire::Metadata out;
  for (const auto& [k, v] : md)
    out.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  return out;
}

inline int CodeOf(const wire::CallStatus& s) { return static_cast<int>(s.code); }
inline int CodeOf(const grpc::Status& s) { return static_cast<int>(s.error_code()); }

// How many file descriptors this process has open: a call must give back what it opened.
inline int OpenFdCount() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// Reads a server stream, ours or gRPC's, to its end: how many messages came, and how it ended.
template <typename Reader>
auto ReadToEnd(Reader& reader) {
  int messages = 0;
  for (Reply r; reader.Read(&r);) ++messages;
  return std::pair{messages, reader.Finish()};
}

inline std::chrono::milliseconds Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace bim::test::wire
