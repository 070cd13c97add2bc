#pragma once
// Where the agent keeps things, per the XDG base directory spec, each overridable by an
// environment variable (the README's settings table lists them) so tests run many isolated
// agents side by side.
//
//   socket  $BACKEND_IM_SOCKET, else $XDG_RUNTIME_DIR/backend-im/agent.sock,
//           else $XDG_STATE_HOME/backend-im/agent.sock (no runtime dir, e.g. a container)
//   state   $XDG_STATE_HOME/backend-im, default ~/.local/state/backend-im
//   config  $XDG_CONFIG_HOME/backend-im, default ~/.config/backend-im

#include <string>

#include "common/result.h"

namespace bim::paths {

std::string SocketPath();
std::string StateDir();
std::string ConfigDir();
std::string ConfigFile();  // ConfigDir()/config

// Creates dir (and parents) with mode 0700 where missing, then checks that it belongs to the
// current user and is not group- or world-accessible; the error says how to fix it.
Status EnsurePrivateDir(const std::string& dir);

std::string Dirname(const std::string& path);

}  // namespace bim::paths
