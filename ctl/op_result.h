#pragma once
// How an operation ends: a value, or an OpError whose class (OpFailure) decides the exit code
// of a CLI command (ExitCodeFor) and the advice of an MCP tool's error result. Failures are
// classified once, where they arise: the agent's (AgentApi), the local files' (operations).

#include <cstddef>
#include <iterator>
#include <string>
#include <utility>

#include "common/result.h"

namespace bim::ctl {

// Exit codes of backend-im (the table in README.md and `backend-im --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitDeployFailed = 1,
  // `domains verify`: the platform has not found every record yet (as diff's 1: the check said
  // no, nothing failed).
  kExitDomainNotValid = 1,
  kExitUsage = 2,
  kExitAuth = 3,
  kExitAgent = 4,
  kExitPlatform = 5,
  kExitLocalFiles = 6,
  kExitNotFound = 7,
  kExitInterrupted = 130,
};

// Why an operation failed. Each class has one exit code and one kind of advice.
enum class OpFailure {
  kUsage,         // the caller's input (exit 2)
  kAuth,          // not logged in, or the login was refused (exit 3)
  kAgent,         // the agent cannot be reached, went away, or did not answer (exit 4)
  kPlatform,      // the platform failed, refused or answered outside the contract (exit 5)
  kLocalFiles,    // local files: unreadable, unwritable, refused folder (exit 6)
  kConflict,      // local files differ from generated ones; nothing written (exit 6)
  kNotFound,      // no such deployment or login (exit 7)
  kDeployFailed,  // the deployment itself failed (exit 1)
  kCancelled,     // cancelled by the caller (exit 130)
};

struct OpError {
  OpFailure kind = OpFailure::kPlatform;
  std::string message;  // what happened, without the operation's name
};

template <typename T>
using OpResult = Result<T, OpError>;

inline OpError OpFail(OpFailure kind, std::string message) {
  return OpError{kind, std::move(message)};
}
inline OpError OpCancelled() { return OpFail(OpFailure::kCancelled, "cancelled"); }

// Each class's exit code, in OpFailure's order.
inline constexpr int kExitCodeOf[] = {kExitUsage,    kExitAuth,         kExitAgent,
                                      kExitPlatform, kExitLocalFiles,   kExitLocalFiles,
                                      kExitNotFound, kExitDeployFailed, kExitInterrupted};
static_assert(std::size(kExitCodeOf) == static_cast<size_t>(OpFailure::kCancelled) + 1,
              "an exit code for every OpFailure");

constexpr int ExitCodeFor(OpFailure kind) { return kExitCodeOf[static_cast<size_t>(kind)]; }

}  // namespace bim::ctl
