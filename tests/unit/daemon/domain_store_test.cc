// The store of the custom domains added through the agent: a real SQLite database in a
// temporary folder, with a fake clock.
#include "daemon/domain_store.h"

#include <doctest/doctest.h>

#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

constexpr const char* kApi = "https://api.example.net";

contract::Domain Domain(const std::string& name, contract::CertificateState certificate =
                                                     contract::CertificateState::kPending) {
  contract::Domain d;
  d.domain = name;
  d.project_id = "proj";
  d.environment = "production";
  d.certificate = certificate;
  return d;
}

std::unique_ptr<Database> Open(const std::string& file) {
  auto db = Database::Open(file);
  REQUIRE_MESSAGE(db.ok(), db.error().message);
  return std::move(*db);
}

std::vector<std::string> Names(DomainStore& store, const std::string& api = kApi) {
  auto list = store.ToCheck(api);
  REQUIRE(list.ok());
  std::vector<std::string> out;
  for (const auto& k : *list) out.push_back(k.domain);
  return out;
}

}  // namespace

TEST_CASE("domain store: the first observation of an ended certificate is the one notice") {
  test::TempDir t;
  auto db = Open(t / "agent.db");
  FakeClock clock;
  DomainStore store(*db, clock);
  REQUIRE(store.Remember(kApi, Domain("b.example.com")).ok());
  REQUIRE(store.Remember(kApi, Domain("a.example.com")).ok());
  CHECK(Names(store) == std::vector<std::string>{"a.example.com", "b.example.com"});
  CHECK(Names(store, "https://elsewhere.example.net").empty());

  auto pending = store.Observe(kApi, Domain("a.example.com"));
  REQUIRE(pending.ok());
  CHECK(pending->known);
  CHECK_FALSE(pending->notice);

  contract::Domain issued = Domain("a.example.com", contract::CertificateState::kIssued);
  issued.dns = contract::DnsState::kValid;
  clock.Advance(std::chrono::seconds(7));
  auto first = store.Observe(kApi, issued);
  REQUIRE(first.ok());
  CHECK(first->notice);
  auto second = store.Observe(kApi, issued);
  REQUIRE(second.ok());
  CHECK(second->known);
  CHECK_FALSE(second->notice);
  // A failure seen after the issue is recorded, but the person was told already.
  auto failed = store.Observe(kApi, Domain("a.example.com", contract::CertificateState::kFailed));
  REQUIRE(failed.ok());
  CHECK_FALSE(failed->notice);

  auto kept = store.Get(kApi, "proj", "a.example.com");
  REQUIRE((kept.ok() && *kept));
  CHECK((*kept)->noticed);
  CHECK((*kept)->certificate == contract::CertificateState::kFailed);
  CHECK((*kept)->checked_at_ms == clock.NowUnixMs());
  CHECK(Names(store) == std::vector<std::string>{"b.example.com"});

  // A domain this agent did not add is not recorded, and never noticed.
  auto stranger = store.Observe(kApi, Domain("c.example.com", contract::CertificateState::kIssued));
  REQUIRE(stranger.ok());
  CHECK_FALSE(stranger->known);
  CHECK_FALSE(stranger->notice);
  CHECK_FALSE(store.Get(kApi, "proj", "c.example.com")->has_value());

  CHECK(*store.Forget(kApi, "proj", "b.example.com"));
  CHECK_FALSE(*store.Forget(kApi, "proj", "b.example.com"));
  CHECK(Names(store).empty());
  // Added again after a removal: it starts over, to be told once more.
  REQUIRE(store.Remember(kApi, Domain("a.example.com")).ok());
  CHECK(store.Observe(kApi, issued)->notice);
}

TEST_CASE("domain store: a database of schema 7 gains the domains table and keeps its history") {
  test::TempDir t;
  {
    auto db = Open(t / "agent.db");
    auto st = db->Prepare(
        "INSERT INTO deployments (id, project_id, commit_hash, status, api_url, created_at, "
        "updated_at) VALUES ('d1', 'proj', 'abc', 'complete', 'x', 1, 1)");
    REQUIRE(st.ok());
    REQUIRE(st->Run().ok());
  }
  // As an agent of schema 7 (environments, before custom domains) left it.
  REQUIRE(test::Run({"sqlite3", t / "agent.db", "DROP TABLE domains; PRAGMA user_version=7;"})
              .exit_code == 0);
  REQUIRE(test::Run({"sqlite3", t / "agent.db", "PRAGMA user_version;"}).out == "7\n");
  auto db = Open(t / "agent.db");
  CHECK(test::Run({"sqlite3", t / "agent.db", "PRAGMA user_version;"}).out == "8\n");
  CHECK(test::Run({"sqlite3", t / "agent.db", "SELECT id FROM deployments;"}).out == "d1\n");
  FakeClock clock;
  DomainStore store(*db, clock);
  REQUIRE(store.Remember(kApi, Domain("api.example.com")).ok());
  CHECK(Names(store) == std::vector<std::string>{"api.example.com"});
}
