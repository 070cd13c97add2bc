#include "daemon/domain_store.h"

namespace bim::daemon {
namespace {

constexpr const char* kColumns =
    "api_url, project_id, domain, environment, dns, certificate, detail, noticed, added_at, "
    "checked_at";

KnownDomain Read(const Statement& st) {
  KnownDomain k;
  k.api_url = st.Text(0);
  k.project_id = st.Text(1);
  k.domain = st.Text(2);
  k.environment = st.Text(3);
  k.dns = contract::ParseDnsState(st.Text(4)).value_or(contract::DnsState::kPending);
  k.certificate =
      contract::ParseCertificateState(st.Text(5)).value_or(contract::CertificateState::kPending);
  k.detail = st.Text(6);
  k.noticed = st.Int(7) != 0;
  k.added_at_ms = st.Int(8);
  k.checked_at_ms = st.Int(9);
  return k;
}

bool Ended(contract::CertificateState c) { return c != contract::CertificateState::kPending; }

}  // namespace

Status DomainStore::Remember(const std::string& api_url, const contract::Domain& d) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("INSERT OR REPLACE INTO domains (") + kColumns +
                        ") VALUES (?,?,?,?,?,?,?,0,?,?)");
  if (!st.ok()) return st.error();
  int64_t now = clock_.NowUnixMs();
  st->Bind(1, api_url)
      .Bind(2, d.project_id)
      .Bind(3, d.domain)
      .Bind(4, d.environment)
      .Bind(5, contract::DnsStateName(d.dns))
      .Bind(6, contract::CertificateStateName(d.certificate))
      .Bind(7, d.detail)
      .Bind(8, now)
      .Bind(9, now);
  return st->Run();
}

Result<Observed> DomainStore::Observe(const std::string& api_url, const contract::Domain& d) {
  std::lock_guard lock(db_.mutex());
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s.ok()) return s.error();
  Observed out;
  bool noticed = false;
  {
    auto st = db_.Prepare(
        "SELECT noticed FROM domains WHERE api_url = ? AND project_id = ? AND domain = ?");
    if (!st.ok()) return st.error();
    st->Bind(1, api_url).Bind(2, d.project_id).Bind(3, d.domain);
    auto row = st->Step();
    if (!row.ok()) return row.error();
    if (!*row) return out;
    out.known = true;
    noticed = st->Int(0) != 0;
  }
  out.notice = !noticed && Ended(d.certificate);
  auto st = db_.Prepare(
      "UPDATE domains SET environment = ?, dns = ?, certificate = ?, detail = ?, noticed = ?, "
      "checked_at = ? WHERE api_url = ? AND project_id = ? AND domain = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, d.environment)
      .Bind(2, contract::DnsStateName(d.dns))
      .Bind(3, contract::CertificateStateName(d.certificate))
      .Bind(4, d.detail)
      .Bind(5, static_cast<int64_t>(noticed || out.notice))
      .Bind(6, clock_.NowUnixMs())
      .Bind(7, api_url)
      .Bind(8, d.project_id)
      .Bind(9, d.domain);
  if (auto s = st->Run(); !s.ok()) return s.error();
  if (auto s = tx.Commit(); !s.ok()) return s.error();
  return out;
}

Result<bool> DomainStore::Forget(const std::string& api_url, const std::string& project_id,
                                 const std::string& domain) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("DELETE FROM domains WHERE api_url = ? AND project_id = ? AND domain = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, api_url).Bind(2, project_id).Bind(3, domain);
  if (auto s = st->Run(); !s.ok()) return s.error();
  return sqlite3_changes(db_.handle()) > 0;
}

Result<std::optional<KnownDomain>> DomainStore::Get(const std::string& api_url,
                                                    const std::string& project_id,
                                                    const std::string& domain) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kColumns +
                        " FROM domains WHERE api_url = ? AND project_id = ? AND domain = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, api_url).Bind(2, project_id).Bind(3, domain);
  auto row = st->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<KnownDomain>();
  return std::optional<KnownDomain>(Read(*st));
}

Result<std::vector<KnownDomain>> DomainStore::ToCheck(const std::string& api_url) {
  std::lock_guard lock(db_.mutex());
  auto st =
      db_.Prepare(std::string("SELECT ") + kColumns +
                  " FROM domains WHERE api_url = ? AND noticed = 0 ORDER BY project_id, domain");
  if (!st.ok()) return st.error();
  st->Bind(1, api_url);
  std::vector<KnownDomain> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(Read(*st));
  }
  return out;
}

}  // namespace bim::daemon
