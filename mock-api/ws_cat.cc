#include "mock-api/ws_cat.h"

#include <cstdio>

#include "ws/ws_client.h"

namespace bim::mock {

int RunWsCat(const std::string& url, const std::string& bearer_token) {
  auto connector = ws::MakeConnector(ws::TlsOptions{});
  ws::ConnectOptions options;
  if (!bearer_token.empty())
    options.headers.emplace_back("Authorization", "Bearer " + bearer_token);
  auto conn = connector->Connect(url, options);
  if (!conn.ok()) {
    std::fprintf(stderr, "backend-im-mock --ws-cat: %s\n", conn.error().message.c_str());
    return 1;
  }
  for (;;) {
    ws::Event e = (*conn)->Receive(std::chrono::hours(1));
    if (e.kind == ws::EventKind::kTimeout) continue;
    if (e.kind == ws::EventKind::kMessage) {
      std::fwrite(e.payload.data(), 1, e.payload.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      continue;
    }
    if (e.close_code == 1000) return 0;
    std::fprintf(stderr, "backend-im-mock --ws-cat: connection ended (%d): %s\n", e.close_code,
                 e.payload.c_str());
    return 1;
  }
}

}  // namespace bim::mock
