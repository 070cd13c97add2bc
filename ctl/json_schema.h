#pragma once
// The pieces of JSON Schema that describe what the ctl prints with --json and what its MCP tools
// return (ctl/models.h, ctl/operation_specs.h): only type, properties, required, items, enum and
// description. An object is a list of properties, each named where it is made:
//   Object({Str("deploymentId", "The deployment's id"), OptStr("url", "The live URL")})
// A field that a result leaves out when it has no value is Optional (OptStr, OptBool), out of
// `required`, rather than typed ["string", "null"]: clients and validators that take one type
// per field handle a type list badly, and the models leave such fields out, never send null.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace bim::ctl::schema {

using nlohmann::json;

// A property of an object: its name, its schema, and whether a result may leave it out.
struct Property {
  std::string name;
  json schema;
  bool optional = false;
};

inline Property Field(std::string name, json schema) {
  return {std::move(name), std::move(schema)};
}
inline Property Optional(Property p) {
  p.optional = true;
  return p;
}

inline json Typed(const char* type, std::string description) {
  return json{{"type", type}, {"description", std::move(description)}};
}
inline Property Str(std::string name, std::string description) {
  return Field(std::move(name), Typed("string", std::move(description)));
}
inline Property Int(std::string name, std::string description) {
  return Field(std::move(name), Typed("integer", std::move(description)));
}
inline Property Bool(std::string name, std::string description) {
  return Field(std::move(name), Typed("boolean", std::move(description)));
}
inline Property OptStr(std::string name, std::string description) {
  return Optional(Str(std::move(name), std::move(description)));
}
inline Property OptBool(std::string name, std::string description) {
  return Optional(Bool(std::move(name), std::move(description)));
}
// A string that is one of `values`.
inline Property Enum(std::string name, std::vector<std::string> values, std::string description) {
  json s = Typed("string", std::move(description));
  s["enum"] = std::move(values);
  return Field(std::move(name), std::move(s));
}

// An array of items (a schema), unnamed (a whole --json line) or as a property.
inline json Array(json items, std::string description) {
  json s = Typed("array", std::move(description));
  s["items"] = std::move(items);
  return s;
}
inline Property ArrayOf(std::string name, json items, std::string description) {
  return Field(std::move(name), Array(std::move(items), std::move(description)));
}
inline Property StrArray(std::string name, std::string description) {
  return ArrayOf(std::move(name), json{{"type", "string"}}, std::move(description));
}

// schema (an object) with more properties; one named in both takes the new schema, and is
// required unless the new one is Optional.
inline json WithFields(json schema, std::vector<Property> more) {
  for (auto& p : more) {
    json& required = schema["required"];
    if (!p.optional && std::find(required.begin(), required.end(), p.name) == required.end()) {
      required.push_back(p.name);
    }
    schema["properties"][p.name] = std::move(p.schema);
  }
  return schema;
}

// An object schema with these properties, all required but the Optional ones.
inline json Object(std::vector<Property> properties) {
  return WithFields(
      json{{"type", "object"}, {"properties", json::object()}, {"required", json::array()}},
      std::move(properties));
}

}  // namespace bim::ctl::schema
