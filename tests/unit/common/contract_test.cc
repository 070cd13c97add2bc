#include "common/contract.h"

#include <doctest/doctest.h>

using namespace bim::contract;

TEST_CASE("stage names round-trip and the success path is the seed's order") {
  std::vector<std::string> names;
  for (Stage s : SuccessPath()) names.emplace_back(StageName(s));
  CHECK(names == std::vector<std::string>{"queued", "committing", "creating_namespace",
                                          "creating_pvc", "building", "deploying", "health_check",
                                          "complete"});
  for (Stage s : SuccessPath()) CHECK(ParseStage(StageName(s)) == s);
  CHECK(ParseStage("failed") == Stage::kFailed);
  CHECK_FALSE(ParseStage("exploded").has_value());
  CHECK(IsTerminal(Stage::kComplete));
  CHECK(IsTerminal(Stage::kFailed));
  CHECK_FALSE(IsTerminal(Stage::kHealthCheck));
  CHECK(StageRank(Stage::kQueued) < StageRank(Stage::kBuilding));
}

TEST_CASE("a stage message in the seed's shape parses, with no seq") {
  auto m = ParseStageMessage(R"({"deploymentId":"d1","projectId":"p","commitHash":"abc",
      "status":"creating_namespace","logs":["a","b"]})");
  REQUIRE(m.ok());
  CHECK(m->deployment_id == "d1");
  CHECK(m->status == Stage::kCreatingNamespace);
  CHECK(m->logs == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(m->seq.has_value());
  CHECK_FALSE(m->url.has_value());
}

TEST_CASE("stage messages round-trip through JSON with the extensions") {
  StageMessage in{{Stage::kComplete, {"done"}, "https://c.backend.im"}, "d", "p", "c", 8};
  auto out = ParseStageMessage(ToJson(in));
  REQUIRE(out.ok());
  CHECK(out->seq == 8);
  CHECK(out->url == "https://c.backend.im");
  CHECK(out->status == Stage::kComplete);
}

TEST_CASE("an event's body as the store keeps it: every field but the logs, and back") {
  StageEvent e{Stage::kComplete, {"a", "b"}, "https://c.backend.im"};
  std::string body = EventBodyJson(e);
  CHECK(body.find("\"logs\"") == std::string::npos);  // kept beside it, within budgets
  auto back = ParseEventBody(body, {"kept"});
  REQUIRE(back.ok());
  CHECK(back->status == Stage::kComplete);
  CHECK(back->url == "https://c.backend.im");
  CHECK(back->logs == std::vector<std::string>{"kept"});
  CHECK_FALSE(ParseEventBody(R"({"status":"someday"})", {}).ok());
  CHECK_FALSE(ParseEventBody("not json", {}).ok());
}

TEST_CASE("unknown fields are tolerated, missing or mistyped required ones are named") {
  CHECK(ParseStageMessage(R"({"deploymentId":"d","status":"queued","extra":{"x":1}})").ok());
  auto no_status = ParseStageMessage(R"({"deploymentId":"d"})");
  REQUIRE_FALSE(no_status.ok());
  CHECK(no_status.error().code == bim::ErrorCode::kProtocol);
  CHECK(no_status.error().message.find("\"status\"") != std::string::npos);
  auto bad_status = ParseStageMessage(R"({"deploymentId":"d","status":"exploded"})");
  REQUIRE_FALSE(bad_status.ok());
  CHECK(bad_status.error().message.find("exploded") != std::string::npos);
  auto bad_seq = ParseStageMessage(R"({"deploymentId":"d","status":"queued","seq":"7"})");
  REQUIRE_FALSE(bad_seq.ok());
  CHECK(bad_seq.error().message.find("\"seq\"") != std::string::npos);
}

TEST_CASE("garbage never throws and comes back as a protocol error") {
  for (const char* body : {"", "{", "[]", "null", "\"x\"", "{\"files\": 3}", "\xff\xfe"}) {
    CHECK_FALSE(ParseGenerateResponse(body).ok());
    CHECK_FALSE(ParseDeployResponse(body).ok());
    CHECK_FALSE(ParseStatusResponse(body).ok());
    CHECK_FALSE(ParseStageMessage(body).ok());
    CHECK_FALSE(ParseTokenResponse(body).ok());
  }
}

TEST_CASE("generate and deploy bodies round-trip their files") {
  FileMap files{{"main.py", "print('hi')\n"}, {"app/models.py", "x = 1\n"}};
  auto g = ParseGenerateResponse(ToJson(GenerateResponse{files, "proj-1"}));
  REQUIRE(g.ok());
  CHECK(g->files == files);
  CHECK(g->project_id == "proj-1");
  auto d = ParseDeployRequest(ToJson(DeployRequest{files, "", ""}));
  REQUIRE(d.ok());
  CHECK(d->files == files);
  CHECK(d->project_id.empty());
}

TEST_CASE("status, verify, device code and token responses parse") {
  auto s = ParseStatusResponse(
      R"({"id":"d","projectId":"p","commitHash":"c","status":"deploying","logs":["x"]})");
  REQUIRE(s.ok());
  CHECK(s->status == Stage::kDeploying);
  CHECK_FALSE(s->seq.has_value());

  auto v = ParseVerifyResponse(R"({"valid":true})");
  REQUIRE(v.ok());
  CHECK(v->valid);
  CHECK(v->email.empty());
  CHECK_FALSE(ParseVerifyResponse(R"({"userId":"u"})").ok());

  auto dc = ParseDeviceCodeResponse(
      R"({"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"http://x/device","expires_in":600})");
  REQUIRE(dc.ok());
  CHECK(dc->interval == 5);  // RFC 8628 default when absent

  auto t = ParseTokenResponse(R"({"access_token":"at","token_type":"Bearer","expires_in":60})");
  REQUIRE(t.ok());
  CHECK(t->expires_in == 60);
  CHECK_FALSE(t->refresh_token.has_value());
}

TEST_CASE("form encoding round-trips reserved characters") {
  std::string enc = FormEncode(
      {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"}, {"x", "a b&c=d"}});
  CHECK(enc.find(' ') == std::string::npos);
  auto dec = FormDecode(enc);
  CHECK(dec["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code");
  CHECK(dec["x"] == "a b&c=d");
  CHECK(FormDecode("a=1&b=&c")["c"].empty());
  CHECK(PercentDecode("%zz%4") == "%zz%4");
  // A form's '+' is a space; percent-decoding alone (URL paths, grpc-message) keeps it.
  CHECK(FormDecode("k=a+b%2Bc")["k"] == "a b+c");
  CHECK(PercentDecode("a+b%20c%2b") == "a+b c+");
  CHECK(PercentEncode("a+b c/~") == "a%2Bb%20c%2F~");
}

TEST_CASE("ids that could name a path or break a URL are refused") {
  CHECK(ValidateId("550e8400-e29b-41d4-a716-446655440000").ok());
  CHECK(ValidateId("v1.2_x").ok());
  for (const char* bad : {"", "..", ".", "...", "a/b", "../x", "a b", "a%2F", "a\nb"}) {
    CHECK_FALSE_MESSAGE(ValidateId(bad).ok(), bad);
  }
  CHECK_FALSE(ValidateId(std::string(129, 'a')).ok());
  CHECK(ValidateId("..", "login id").error().message.find("login id") != std::string::npos);
}

TEST_CASE("loopback hosts are localhost, 127.0.0.0/8 as a dotted quad and [::1], nothing else") {
  for (const char* yes : {"localhost", "LocalHost", "127.0.0.1", "127.255.255.254", "[::1]"}) {
    CHECK_MESSAGE(bim::contract::IsLoopbackHost(yes), yes);
  }
  for (const char* no :
       {"", "localhost.evil.example", "127.0.0", "127.0.0.1.2", "127.0.0.256", "127.0.0.1a",
        "128.0.0.1", "10.0.0.1", "0x7f.0.0.1", "[::2]", "::1", "127..0.1"}) {
    CHECK_FALSE_MESSAGE(bim::contract::IsLoopbackHost(no), no);
  }
}

TEST_CASE("a URL to open is https with a host, or http to this machine, or it is refused") {
  for (const char* ok :
       {"https://a1b2c3d4e5f6.backend.im", "https://a1b2c3d4e5f6.backend.im/",
        "HTTPS://x.backend.im:8443/path?q=1#top", "https://127.0.0.1", "https://[::1]:443/",
        "https://xn--bcher-kva.example", "http://127.0.0.1:8080/device", "HTTP://LOCALHOST:3000",
        "http://127.255.0.9", "http://[::1]:80/x?y=1"}) {
    CHECK_MESSAGE(CheckUrlToOpen(ok, "deployment URL").ok(), ok);
  }
  for (const char* bad : {"",
                          "javascript:alert(1)",
                          "file:///etc/passwd",
                          "http://a.backend.im",
                          "https://",
                          "https:///path",
                          "https://:443",
                          "https://a.backend.im:",
                          "https://a.backend.im:99999x",
                          "https://backend.im@evil.example",
                          "https://a b.im",
                          "https://a.im/\x1b]8;;x",
                          "https://a.im/\r",
                          "https://b\xc3\xbc"
                          "cher.example",
                          "https://-a.im",
                          "https://a..im",
                          "https://[::1",
                          "https://[zz]",
                          "https://[::1]x",
                          " https://a.im",
                          "ftp://a.im",
                          "http://127.0.0.1.evil.example",
                          "http://128.0.0.1",
                          "http://10.0.0.1:8000",
                          "http://127.0.0.256",
                          "http://127.0.1",
                          "http://localhost.evil.example",
                          "http://[::2]",
                          "http://user:pw@127.0.0.1"}) {
    auto s = CheckUrlToOpen(bad, "login URL");
    CHECK_FALSE_MESSAGE(s.ok(), bad);
    if (!s.ok()) {
      CHECK(s.error().code == bim::ErrorCode::kProtocol);
      CHECK(s.error().message.find("login URL") != std::string::npos);
      for (char c : s.error().message) CHECK(static_cast<unsigned char>(c) >= 0x20);
      // The URL is never repeated, not even in part.
      if (std::string(bad).size() > 8) {
        CHECK_MESSAGE(s.error().message.find(std::string(bad).substr(6)) == std::string::npos,
                      s.error().message);
      }
    }
  }
  CHECK_FALSE(CheckUrlToOpen("https://a.im/" + std::string(2048, 'x'), "deployment URL").ok());
}

TEST_CASE("an answer of more than 100 000 JSON values is refused before it is parsed") {
  auto status = [](size_t lines, const std::string& line) {
    std::string body = R"({"id":"d","projectId":"p","commitHash":"c","status":"queued","logs":[)";
    for (size_t i = 0; i < lines; ++i) body += (i ? "," : "") + line;
    return body + "]}";
  };
  // The object's 5 members and 1 array count too.
  CHECK(ParseStatusResponse(status(99990, R"("")")).ok());
  auto refused = ParseStatusResponse(status(100000, R"("")"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == bim::ErrorCode::kProtocol);
  CHECK(refused.error().message ==
        "response outside the API contract: status response holds more than 100000 JSON values");
  // Commas, brackets and braces inside strings are text, not values.
  CHECK(ParseStatusResponse(status(10, R"("a,[{\",\\")")).ok());
  CHECK(ParseStatusResponse(status(10, R"("a,[{\",\\")"))->logs[0] == "a,[{\",\\");
  // Nesting is counted as well.
  std::string deep = R"({"id":"d","projectId":"p","commitHash":"c","status":"queued","x":)" +
                     std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK_FALSE(ParseStatusResponse(deep).ok());
}

TEST_CASE("a log page and each stream message round-trip, and a line without a seq is refused") {
  LogPage page{"d1",
               {{1, 1700000000000, LogLevel::kInfo, "access", R"(- "GET / HTTP/1.1" 200 OK)"},
                {2, 1700000000001, LogLevel::kError, "app", "ValueError: boom"}},
               2,
               1,
               false};
  auto back = ParseLogPage(ToJson(page));
  REQUIRE(back.ok());
  REQUIRE(back->lines.size() == 2);
  CHECK(back->lines[1].level == LogLevel::kError);
  CHECK(back->lines[1].text == "ValueError: boom");
  CHECK(back->lines[0].source == "access");
  CHECK(back->cursor == 2);
  CHECK(back->first == 1);

  LogStreamMessage skipped;
  skipped.type = LogStreamMessage::Type::kSkipped;
  skipped.skipped = 40;
  skipped.next = 51;
  auto s = ParseLogStreamMessage(ToJson(skipped));
  REQUIRE(s.ok());
  CHECK(s->type == LogStreamMessage::Type::kSkipped);
  CHECK(s->skipped == 40);
  CHECK(s->next == 51);
  auto end = ParseLogStreamMessage(R"({"type":"end","reason":"replaced"})");
  REQUIRE(end.ok());
  CHECK(end->type == LogStreamMessage::Type::kEnd);
  CHECK(end->reason == "replaced");
  auto line = ParseLogStreamMessage(ToJson(page.lines[0]));
  REQUIRE(line.ok());
  CHECK(line->line.seq == 1);

  CHECK_FALSE(ParseLogStreamMessage(R"({"type":"line","text":"x","level":"info"})").ok());
  CHECK_FALSE(ParseLogStreamMessage(R"({"type":"line","seq":1,"text":"x","level":"loud"})").ok());
  auto unknown = ParseLogStreamMessage(R"({"type":"gossip"})");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("gossip") != std::string::npos);
  CHECK(ParseLogLevel("warning") == LogLevel::kWarning);
  CHECK_FALSE(ParseLogLevel("WARN").has_value());
  CHECK(IsLogsNotFoundCode("deployment_not_found"));
  CHECK_FALSE(IsLogsNotFoundCode("not_found"));
}

TEST_CASE("a domain round-trips with its records, states and detail") {
  Domain d;
  d.domain = "api.example.test";
  d.project_id = "p1";
  d.environment = "production";
  d.dns = DnsState::kInvalid;
  d.certificate = CertificateState::kPending;
  d.records = {{"TXT", "_backend-im.api.example.test", "backend-im-verify=t", {}, std::nullopt},
               {"A", "api.example.test", "127.0.0.1", {"192.0.2.9"}, false}};
  d.checked_at = 1700000000000;
  d.detail = "A api.example.test points at 192.0.2.9";
  auto back = ParseDomain(ToJson(d));
  REQUIRE(back.ok());
  CHECK(back->dns == DnsState::kInvalid);
  REQUIRE(back->records.size() == 2);
  CHECK_FALSE(back->records[0].ok.has_value());
  CHECK(back->records[1].ok == false);
  CHECK(back->records[1].found == std::vector<std::string>{"192.0.2.9"});
  CHECK(back->checked_at == 1700000000000);
  CHECK(back->detail == d.detail);

  auto list = ParseDomainList(ToJson(DomainList{"p1", {d}}));
  REQUIRE(list.ok());
  CHECK(list->domains.size() == 1);
  CHECK_FALSE(
      ParseDomain(R"({"domain":"a.b","dns":"maybe","certificate":"pending","records":[]})").ok());
  auto add = ParseAddDomainRequest(ToJson(AddDomainRequest{"a.example.test", ""}));
  REQUIRE(add.ok());
  CHECK(add->environment.empty());
  CHECK(IsDomainsNotFoundCode("domain_not_found"));
  CHECK_FALSE(IsDomainsNotFoundCode("not_found"));
}

TEST_CASE("domain names: folded, then checked label by label") {
  CHECK(NormalizeDomain("API.Example.TEST.") == "api.example.test");
  CHECK(ValidateDomainName("api.example.test").ok());
  CHECK(ValidateDomainName("a-1.b2.example").ok());
  for (const char* bad : {"", "localhost", "API.example.test", "-a.example", "a-.example",
                          "a..example", "a.example.", "a_b.example", "a example.test"}) {
    auto s = ValidateDomainName(bad);
    CHECK_MESSAGE(!s.ok(), bad);
    if (!s.ok()) CHECK(s.error().code == bim::ErrorCode::kInvalidArgument);
  }
  CHECK_FALSE(ValidateDomainName(std::string(64, 'a') + ".example").ok());
  std::string long_name;  // labels of 60, each fine, 304 bytes in all
  for (int i = 0; i < 5; ++i) long_name += (i ? "." : "") + std::string(60, 'a');
  CHECK_FALSE(ValidateDomainName(long_name).ok());
  CHECK(RecordValueMatches("CNAME", "apps.backend.im", "Apps.Backend.IM."));
  CHECK_FALSE(RecordValueMatches("TXT", "abc", "ABC"));
  CHECK(RecordValueMatches("A", "127.0.0.1", "127.0.0.1"));
}
