#pragma once
// A check of JSON against the subset of JSON Schema that the ctl's schemas use (ctl/json_schema.h
// builds them): type, enum, properties, required, additionalProperties and items. For tests of
// what the commands print with --json and what the MCP tools return.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bim::test {

// Where value breaks schema, one line per problem, each naming its place (e.g. "$.logs[2]").
// closed: every field of an object must be among its schema's properties, as if each object
// schema said additionalProperties false; the ctl's models promise that much (nothing they
// print goes undescribed).
inline void SchemaProblems(const nlohmann::json& schema, const nlohmann::json& value,
                           const std::string& where, bool closed, std::vector<std::string>& out) {
  auto is = [&](const std::string& type) {
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "number") return value.is_number();
    if (type == "boolean") return value.is_boolean();
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "null") return value.is_null();
    return false;
  };
  if (auto t = schema.find("type"); t != schema.end()) {
    bool ok = false;
    if (t->is_string()) ok = is(*t);
    for (const auto& one : t->is_array() ? *t : nlohmann::json::array()) ok = ok || is(one);
    if (!ok) {
      out.push_back(where + ": " + value.dump().substr(0, 80) + " is not of type " + t->dump());
      return;
    }
  }
  if (auto e = schema.find("enum"); e != schema.end()) {
    if (std::find(e->begin(), e->end(), value) == e->end()) {
      out.push_back(where + ": " + value.dump() + " is not one of " + e->dump());
    }
  }
  if (value.is_object()) {
    for (const auto& r : schema.value("required", nlohmann::json::array())) {
      if (!value.contains(r.get<std::string>())) {
        out.push_back(where + ": required \"" + r.get<std::string>() + "\" is missing");
      }
    }
    const nlohmann::json props = schema.value("properties", nlohmann::json::object());
    for (const auto& [key, v] : value.items()) {
      if (props.contains(key)) {
        SchemaProblems(props[key], v, where + "." + key, closed, out);
      } else if (closed || !schema.value("additionalProperties", true)) {
        out.push_back(where + ": \"" + key + "\" is not allowed");
      }
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      SchemaProblems(schema["items"], value[i], where + "[" + std::to_string(i) + "]", closed, out);
    }
  }
}

inline std::vector<std::string> SchemaProblems(const nlohmann::json& schema,
                                               const nlohmann::json& value, bool closed = false) {
  std::vector<std::string> out;
  SchemaProblems(schema, value, "$", closed, out);
  return out;
}

}  // namespace bim::test
