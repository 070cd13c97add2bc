// libFuzzer: the platform's answers to generate, deploy, verify and the OAuth endpoints.
#include <cstdint>
#include <string_view>

#include "common/contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  using namespace bim::contract;
  (void)ParseGenerateResponse(body);
  (void)ParseDeployResponse(body);
  (void)ParseDeployRequest(body);
  (void)ParseVerifyResponse(body);
  (void)ParseDeviceCodeResponse(body);
  (void)ParseTokenResponse(body);
  (void)ParseOAuthError(body);
  (void)ParseErrorBody(body);
  (void)FormDecode(body);
  (void)PercentDecode(body);
  return 0;
}
