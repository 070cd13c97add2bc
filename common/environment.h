#pragma once
// The process environment behind an interface, so code that reads settings from it can be
// tested with a map instead of setenv (which is not thread-safe and leaks between tests).

#include <cstdlib>
#include <map>
#include <string>
#include <utility>

namespace bim {

class Environment {
 public:
  virtual ~Environment() = default;
  // The variable's value; "" when it is unset (an empty value counts as unset).
  virtual std::string Get(const std::string& name) const = 0;
};

class ProcessEnvironment final : public Environment {
 public:
  std::string Get(const std::string& name) const override {
    const char* v = std::getenv(name.c_str());
    return v ? std::string(v) : std::string();
  }
};

class MapEnvironment final : public Environment {
 public:
  explicit MapEnvironment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  std::string Get(const std::string& name) const override {
    auto it = vars_.find(name);
    return it == vars_.end() ? std::string() : it->second;
  }

 private:
  std::map<std::string, std::string> vars_;
};

}  // namespace bim
