#pragma once
// How the ctl shows things: for people on a terminal (colour unless NO_COLOR), plain lines when
// stdout is not a terminal, and JSON for scripts and assistants.

#include <nlohmann/json.hpp>
#include <string>

#include "backend_im/v1/agent.pb.h"

namespace bim::ctl {

class Style {
 public:
  Style();
  bool tty() const { return tty_; }
  std::string Bold(const std::string& s) const { return Wrap("1", s); }
  std::string Dim(const std::string& s) const { return Wrap("2", s); }
  std::string Green(const std::string& s) const { return Wrap("32", s); }
  std::string Red(const std::string& s) const { return Wrap("31", s); }
  std::string Yellow(const std::string& s) const { return Wrap("33", s); }
  std::string Cyan(const std::string& s) const { return Wrap("36", s); }

 private:
  std::string Wrap(const char* code, const std::string& s) const;
  bool tty_;
  bool color_;
};

nlohmann::json DeploymentJson(const backend_im::v1::Deployment& d);
nlohmann::json EventJson(const backend_im::v1::DeploymentEvent& e);
nlohmann::json AuthJson(const backend_im::v1::AuthStatusReply& a);
std::string FormatTime(int64_t unix_ms);  // local time, "2026-11-25 19:04:05"
std::string FormatIso(int64_t unix_ms);   // UTC, "2026-11-25T19:04:05.123Z"
// One JSON value per line; invalid UTF-8 is replaced, never a crash.
std::string Dump(const nlohmann::json& j, int indent = -1);

}  // namespace bim::ctl
