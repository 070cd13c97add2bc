#include "common/curl_http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>

#include "common/version.h"

namespace bim {
namespace {

// The peer's certificate (or our CA file) was refused: a verdict, not a network error.
bool CertificateRefused(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return true;
    default:
      return false;
  }
}

// What one transfer received, and which limit it broke, if any. Both callbacks return a count
// other than the one they were given to make curl abort the transfer at once.
struct Transfer {
  std::string* body = nullptr;
  std::map<std::string, std::string>* headers = nullptr;
  std::size_t max_body = 0;
  std::size_t header_bytes = 0;
  bool body_over = false;        // the body (or its announced Content-Length) was over max_body
  bool headers_over = false;     // the header lines were over limits::kMaxAnswerHeaderBytes
  std::string refused_encoding;  // a Content- or Transfer-Encoding we never asked for
  const std::function<Status()>* before_body = nullptr;
  bool body_started = false;
  std::optional<std::size_t> announced_length;  // the final answer's Content-Length
  std::optional<Error> refused_by_caller;       // what before_body answered
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  // Checked before appending, so a body never grows past the limit, whether or not it came
  // with a Content-Length (chunked, or ended by closing the connection).
  if (bytes > t->max_body - std::min(t->max_body, t->body->size())) {
    t->body_over = true;
    return 0;
  }
  if (!t->body_started) {
    t->body_started = true;
    if (t->before_body && *t->before_body) {
      if (Status s = (*t->before_body)(); !s.ok()) {
        t->refused_by_caller = s.error();
        return 0;
      }
    }
    // The body's one allocation: growing it as it arrives would hold the old buffer and a new
    // one of twice its size at once (a 62 MiB answer: 96 MiB for a moment).
    if (t->announced_length) t->body->reserve(*t->announced_length);
  }
  // Without a length, the body doubles as it grows, and takes the whole limit at the step whose
  // next one would pass it: std::string's own growth doubles past the limit (a 64 MiB answer took
  // a 128 MiB buffer, every byte of which the agent's allocator touches, beside the old one), and
  // a buffer just under the limit would be copied into one of the limit's size. So the old and
  // the new buffer together stay under 1.5 times the limit. A fresh string, since reserve() on a
  // full one doubles too whenever asked for less than twice what it has.
  if (t->body->capacity() < t->body->size() + bytes) {
    std::size_t target = std::max(t->body->size() + bytes, 2 * t->body->capacity());
    if (target > t->max_body / 2) target = t->max_body;
    std::string grown;
    grown.reserve(target);
    grown.append(*t->body);
    t->body->swap(grown);
  }
  t->body->append(data, bytes);
  return bytes;
}

// Header lines of every response curl reads arrive here (a 100 Continue, say); a new status
// line starts over, so only the final response's headers remain.
size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  t->header_bytes += bytes;
  if (t->header_bytes > limits::kMaxAnswerHeaderBytes) {
    t->headers_over = true;
    return 0;
  }
  std::string line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers->clear();
    t->announced_length.reset();
    return bytes;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    // An announced length over the limit ends the transfer before any of the body is read.
    if (name == "content-length") {
      errno = 0;
      char* end = nullptr;
      unsigned long long length = std::strtoull(value.c_str(), &end, 10);
      if (errno == ERANGE || (end != value.c_str() && length > t->max_body)) {
        t->body_over = true;
        return 0;
      }
      if (end != value.c_str()) t->announced_length = static_cast<std::size_t>(length);
    }
    // We never send an Accept-Encoding other than identity and never decode: compressed bytes
    // would not parse, and decoding is where a small answer becomes a huge one.
    if (name == "content-encoding" || name == "transfer-encoding") {
      std::string lower = value;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      for (size_t at = 0; at <= lower.size();) {
        size_t comma = std::min(lower.find(',', at), lower.size());
        std::string coding = lower.substr(at, comma - at);
        coding.erase(0, std::min(coding.size(), coding.find_first_not_of(" \t")));
        coding.erase(std::min(coding.size(), coding.find_last_not_of(" \t") + 1));
        bool plain = coding.empty() || coding == "identity" ||
                     (name == "transfer-encoding" && coding == "chunked");
        if (!plain) {
          t->refused_encoding = line.substr(0, colon) + ": " + value.substr(0, 64);
          return 0;
        }
        at = comma + 1;
      }
    }
    (*t->headers)[name] = std::move(value);
  }
  return bytes;
}

// "/api/status/ID" from "https://host:port/api/status/ID": the request, for a message.
std::string PathOf(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash, 200);
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

Result<HttpResponse> CurlHttpClient::Send(const HttpRequest& request) {
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Error(ErrorCode::kInternal, "curl_easy_init failed");
  CURL* c = curl.get();
  HttpResponse resp;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  // No CURLOPT_ACCEPT_ENCODING: curl then neither asks for compression nor decodes it (we send
  // "Accept-Encoding: identity" ourselves, and OnHeader refuses any other Content-Encoding).
  curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body_bytes));
  std::string agent = fmt::format("{}/{}", user_agent_, kVersion);
  curl_easy_setopt(c, CURLOPT_USERAGENT, agent.c_str());
  Transfer transfer;
  transfer.body = &resp.body;
  transfer.headers = &resp.headers;
  transfer.max_body = request.max_body_bytes;
  transfer.before_body = &request.before_body;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  curl_slist* list = nullptr;
  for (const auto& [k, v] : request.headers) {
    list = curl_slist_append(list, (k + ": " + v).c_str());
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip on uploads
  list = curl_slist_append(list, "Accept-Encoding: identity");  // never compressed; see OnHeader
  headers.reset(list);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

  // A body makes it a POST; any other method is named. GET needs neither.
  if (request.method == "POST" || !request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (request.method != "GET" && request.method != "POST") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  if (transfer.refused_by_caller) return *transfer.refused_by_caller;
  // A broken limit first: curl reports those as write errors. Nothing of the answer is kept.
  std::string what = request.method + " " + PathOf(request.url);
  if (transfer.body_over || rc == CURLE_FILESIZE_EXCEEDED) {
    return Error(ErrorCode::kProtocol,
                 fmt::format("the platform's answer to {} exceeded {}; ignored", what,
                             limits::Describe(request.max_body_bytes)));
  }
  if (transfer.headers_over) {
    return Error(ErrorCode::kProtocol,
                 fmt::format("the platform's answer to {} had over {} of headers; ignored", what,
                             limits::Describe(limits::kMaxAnswerHeaderBytes)));
  }
  if (!transfer.refused_encoding.empty()) {
    return Error(ErrorCode::kProtocol,
                 fmt::format("the platform's answer to {} came compressed ({}), which the "
                             "agent never asks for; ignored",
                             what, transfer.refused_encoding));
  }
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (CertificateRefused(rc)) {
      // Asking again would meet the same certificate: say so at once, with what to do.
      return Error(ErrorCode::kProtocol,
                   fmt::format("the agent refuses the TLS certificate of {}: {}. If the platform "
                               "uses a private CA, point BACKEND_IM_CA_FILE (or ca_file in the "
                               "config file) at it",
                               request.url, detail));
    }
    ErrorCode code = rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
    return Error(code, fmt::format("cannot reach {}: {}", request.url, detail));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    resp.retry_after_seconds = static_cast<int64_t>(retry_after);
  }
  return resp;
}

}  // namespace bim
