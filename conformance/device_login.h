#pragma once
// --device-login: gets a token the way a person logs in from a terminal, with the RFC 8628
// device flow of docs/API_CONTRACTS.md §6. Asks for a code, tells the person where to enter it
// (on `prompt`, stderr in the program), then polls the token endpoint no faster than the
// interval, adding 5 s on slow_down, until the person approves, denies, or the code expires.
//
// Holds references to the transport, clock, sleeper and prompt stream, which must outlive it.
// Blocks the calling thread for as long as the person takes (at most the code's lifetime).

#include <ostream>
#include <string>

#include "common/clock.h"
#include "common/contract.h"
#include "common/result.h"
#include "conformance/http_transport.h"
#include "conformance/sleeper.h"

namespace bim::conformance {

class DeviceLogin {
 public:
  DeviceLogin(HttpTransport& http, const Clock& clock, Sleeper& sleeper, std::string api_url,
              std::string client_id, std::ostream& prompt)
      : http_(http),
        clock_(clock),
        sleeper_(sleeper),
        api_url_(std::move(api_url)),
        client_id_(std::move(client_id)),
        prompt_(prompt) {}

  // The tokens, or why there are none: kNotFound (no device flow), kUnavailable (no answer),
  // kPermissionDenied (denied), kTimeout (the code expired), kProtocol (an answer outside the
  // contract).
  Result<contract::TokenResponse> Run();

 private:
  HttpAnswer PostForm(const std::string& path, const std::string& body);

  HttpTransport& http_;
  const Clock& clock_;
  Sleeper& sleeper_;
  std::string api_url_;
  std::string client_id_;
  std::ostream& prompt_;
};

}  // namespace bim::conformance
