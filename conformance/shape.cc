#include "conformance/shape.h"

#include "common/contract.h"

namespace bim::conformance {
namespace {

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  out += s.substr(0, kMax);
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

bool HasType(const nlohmann::json& v, FieldType type) {
  switch (type) {
    case FieldType::kString:
    case FieldType::kStatus:
      return v.is_string();
    case FieldType::kNonEmptyString:
      return v.is_string() && !v.get_ref<const std::string&>().empty();
    case FieldType::kInteger:
      return v.is_number_integer();
    case FieldType::kBoolean:
      return v.is_boolean();
    case FieldType::kStringList:
      return v.is_array();
    case FieldType::kStringMap:
      return v.is_object();
  }
  return false;
}

// Problems inside a value of the right outer type: list items, map values, status names.
void CheckInside(const Field& f, const nlohmann::json& v, std::vector<std::string>& problems) {
  const std::string field = "field " + Quote(f.name);
  if (f.type == FieldType::kStatus) {
    const auto& name = v.get_ref<const std::string&>();
    if (!contract::ParseStage(name)) {
      problems.push_back(field + " has the unknown status " + Quote(name) +
                         " (the contract's are queued, committing, creating_namespace, "
                         "creating_pvc, building, deploying, health_check, complete, failed)");
    }
  } else if (f.type == FieldType::kStringList) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) {
        problems.push_back(field + " item " + std::to_string(i) + " is " + JsonKind(v[i]) +
                           ", expected a string");
        return;
      }
    }
  } else if (f.type == FieldType::kStringMap) {
    for (const auto& [key, value] : v.items()) {
      if (!value.is_string()) {
        problems.push_back(field + " entry " + Quote(key) + " is " + JsonKind(value) +
                           ", expected a string");
        return;
      }
    }
  }
}

}  // namespace

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "a string";
    case FieldType::kNonEmptyString:
      return "a non-empty string";
    case FieldType::kInteger:
      return "an integer";
    case FieldType::kBoolean:
      return "a boolean";
    case FieldType::kStringList:
      return "an array of strings";
    case FieldType::kStringMap:
      return "an object of strings";
    case FieldType::kStatus:
      return "a status string";
  }
  return "a value";
}

std::string JsonKind(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a non-integer number";
  if (v.is_string())
    return v.get_ref<const std::string&>().empty() ? "an empty string" : "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "a value of another kind";
}

Shape::Shape(std::string what, std::vector<Field> fields)
    : what_(std::move(what)), fields_(std::move(fields)) {}

std::vector<std::string> Shape::Check(const nlohmann::json& value) const {
  std::vector<std::string> problems;
  if (!value.is_object()) {
    problems.push_back("the " + what_ + " is " + JsonKind(value) + ", expected a JSON object");
    return problems;
  }
  for (const Field& f : fields_) {
    auto it = value.find(f.name);
    bool absent = it == value.end() || (!f.required && it->is_null());
    if (absent) {
      if (f.required) problems.push_back("field " + Quote(f.name) + " is missing");
      continue;
    }
    if (!HasType(*it, f.type)) {
      problems.push_back("field " + Quote(f.name) + " is " + JsonKind(*it) + ", expected " +
                         std::string(FieldTypeName(f.type)));
      continue;
    }
    CheckInside(f, *it, problems);
  }
  return problems;
}

std::vector<std::string> Shape::CheckBody(std::string_view body) const {
  auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return {"the " + what_ + " is not valid JSON"};
  return Check(j);
}

}  // namespace bim::conformance
