#pragma once
// `backend-im-mock --ws-cat URL`: a tiny WebSocket client for people and for the
// walkthrough in docs/API_CONTRACTS.md, since Debian ships no WebSocket CLI. Prints each
// message on its own line on stdout until the connection ends. Blocks the calling thread.

#include <string>

namespace bim::mock {

// Exit code: 0 after a normal close (1000), 1 when the connection failed or dropped.
int RunWsCat(const std::string& url, const std::string& bearer_token);

}  // namespace bim::mock
