#pragma once
// The shape of one JSON object of the contract: which fields it must have, which it may have,
// and the type of each. Check() lists every way a value differs, each problem naming the exact
// field ("field \"commitHash\" is missing"), so a report says what a platform got wrong
// without anyone reading the body. Unknown fields are tolerated: either side may add fields
// (docs/API_CONTRACTS.md). An optional field that is null counts as absent, as in
// common/contract.h's parsers.
//
// Immutable after construction; safe from any thread.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bim::conformance {

enum class FieldType {
  kString,
  kNonEmptyString,
  kInteger,
  kBoolean,
  kStringList,  // array of strings
  kStringMap,   // object whose values are all strings (e.g. files)
  kStatus,      // string naming one of the contract's deployment statuses
};

struct Field {
  std::string name;
  FieldType type = FieldType::kString;
  bool required = true;
};

class Shape {
 public:
  // what: how problems name the object, e.g. "deploy answer".
  Shape(std::string what, std::vector<Field> fields);

  const std::string& what() const { return what_; }
  const std::vector<Field>& fields() const { return fields_; }

  // Problems of a parsed value; empty when it has the shape.
  std::vector<std::string> Check(const nlohmann::json& value) const;
  // Problems of a body: not JSON, not an object, or the problems of Check().
  std::vector<std::string> CheckBody(std::string_view body) const;

 private:
  std::string what_;
  std::vector<Field> fields_;
};

// "a string", "an integer", ... as problems say it.
std::string_view FieldTypeName(FieldType type);
// How a JSON value's type reads in a problem: "a string", "null", "a non-integer number", ...
std::string JsonKind(const nlohmann::json& value);

}  // namespace bim::conformance
