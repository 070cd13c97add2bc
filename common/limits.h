#pragma once
// Every size limit on what the platform may send, on what the agent keeps of it, and on what
// the agent answers a ctl, in one place. docs/SECURITY.md has the table and the threat each
// limit answers; docs/API_CONTRACTS.md the sizes we assume of a real platform.
//
// Each limit is generous for a real platform and small against a hostile one: hitting it is a
// named error (kProtocol) or a note in the deployment, never memory or disk. Nothing over a
// limit is stored.
//
// C++17-clean: ws/ (built as C++17) includes it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace bim::limits {

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;

// --- What the ctl uploads (ctl/project_files.h reads a project within these). ---
inline constexpr uint64_t kMaxProjectFileBytes = 5 * kMiB;
inline constexpr uint64_t kMaxProjectBytes = 50 * kMiB;
inline constexpr std::size_t kMaxProjectFiles = 5000;

// --- HTTP answers of the platform, enforced while they arrive (common/curl_http_client.cc). ---
// One answer's body: status, deploy, verify, OAuth and error answers. A status answer carries
// every log line of a deployment, which the store keeps at most kMaxLogBytesPerDeployment of.
inline constexpr std::size_t kMaxAnswerBytes = 4 * kMiB;
// A generate answer carries a whole project: as much as the ctl would upload, plus room for
// JSON's escapes.
inline constexpr std::size_t kMaxGenerateAnswerBytes = 64 * kMiB;
static_assert(kMaxGenerateAnswerBytes > kMaxProjectBytes + kMaxProjectBytes / 4);
// All header lines of one answer together.
inline constexpr std::size_t kMaxAnswerHeaderBytes = 64 * kKiB;
// Values (array elements and object members) in one JSON answer or stream message, counted
// before it is parsed: the parser's tree costs some 100 bytes a value whatever its size, so
// 4 MiB of empty strings ("",) would take some 200 MiB. A generate answer of kMaxProjectFiles
// has about 5 000, a status answer one per log line: five times what a deployment keeps.
inline constexpr std::size_t kMaxJsonValues = 100000;

// --- The platform's event stream (ws/ws_client.h). ---
// One WebSocket message (all frames of it): one stage's event, which is less than a status
// answer holds.
inline constexpr std::size_t kMaxStreamMessageBytes = kMaxAnswerBytes;
// Messages read from the socket but not yet handled by the watcher; above it the client stops
// reading (TCP pushes back on the platform) until the watcher catches up.
inline constexpr std::size_t kMaxStreamQueueBytes = 2 * kMaxStreamMessageBytes;

// What the platform may send on the stream besides stage messages, counted per connection in
// windows of kStreamRateWindow. A real platform pings every 20 to 60 s and sends nothing outside
// the contract; a stream over either limit is closed at the socket, and the watcher opens it
// again after its backoff (daemon/deployment_watcher.h), so a flood costs a few dozen frames a
// connection, never memory, disk or a core.
inline constexpr std::chrono::seconds kStreamRateWindow{10};
// Pings and pongs: each ping the agent answers queues a pong inside the WebSocket library.
inline constexpr std::size_t kMaxStreamControlFrames = 30;
// Text frames that are not stage messages of this deployment: each costs a parse and a count.
inline constexpr std::size_t kMaxStreamJunkFrames = 30;
// What the agent's side of the stream has waiting to be sent (its pings and pongs); a platform
// that reads none of it past this is dropped, before the library's queue can grow.
inline constexpr std::size_t kMaxStreamSendQueueBytes = 64 * kKiB;

// --- What the store keeps of one deployment (daemon/deployment_store.cc). ---
// Events: a real deployment has about ten. Past this only status changes are stored, so the
// deployment still reaches complete or failed.
inline constexpr int64_t kMaxEventsPerDeployment = 10000;
// Log lines of one event; the rest are dropped (a note says how many).
inline constexpr std::size_t kMaxLogLinesPerEvent = 5000;
// One log line; a longer one is cut (a note at its end says so).
inline constexpr std::size_t kMaxLogLineBytes = 8 * kKiB;
// Log text of one deployment. Past either, no more log text is kept, only status changes.
inline constexpr int64_t kMaxLogLinesPerDeployment = 20000;
inline constexpr int64_t kMaxLogBytesPerDeployment = 4 * kMiB;
// The database's write-ahead log is cut back to this after each checkpoint (SQLite's
// journal_size_limit); it holds about the last thousand pages written, 4 MiB, between them.
inline constexpr int64_t kMaxIdleWalBytes = 4 * static_cast<int64_t>(kMiB);
// Short fields the platform names a deployment with (projectId, commitHash), and its URL.
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxUrlBytes = 2 * kKiB;
// How much of the platform's error message an Error passes on.
inline constexpr std::size_t kMaxPlatformMessageBytes = 500;

// --- Replies to the ctl (daemon/agent_service.cc), far below gRPC's 256 MiB per message. ---
// Log text in one Deployment reply; each line counts kReplyLineOverhead more, so that a flood
// of empty lines is bounded too. Above what the store keeps, so only a database written before
// these limits can be cut (the reply then says logs_truncated).
inline constexpr std::size_t kMaxReplyLogBytes = 8 * kMiB;
inline constexpr std::size_t kReplyLineOverhead = 16;
static_assert(kMaxReplyLogBytes >
              kMaxLogBytesPerDeployment + kMaxLogLinesPerDeployment * kReplyLineOverhead + kMiB);

// "4 MiB", "8 KiB", "500 bytes": a limit for a message.
inline std::string Describe(std::size_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The longest prefix of text that is at most max_bytes and does not end inside a UTF-8
// sequence.
inline std::size_t Utf8CutPoint(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  std::size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

}  // namespace bim::limits
