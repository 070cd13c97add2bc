#include "conformance/contract_shapes.h"

namespace bim::conformance::shapes {
namespace {

Field Required(const char* name, FieldType type) { return {name, type, true}; }
Field Optional(const char* name, FieldType type) { return {name, type, false}; }

constexpr FieldType kString = FieldType::kString;
constexpr FieldType kNonEmpty = FieldType::kNonEmptyString;
constexpr FieldType kInteger = FieldType::kInteger;

// The fields of a status answer and a stage message, which differ only in the name of the
// deployment's id (contract::StatusResponse and contract::StageMessage).
std::vector<Field> StageFields(const char* id_field) {
  return {Required(id_field, kNonEmpty),
          Required("projectId", kNonEmpty),
          Required("commitHash", kNonEmpty),
          Required("status", FieldType::kStatus),
          Required("logs", FieldType::kStringList),
          Optional("url", kString),
          Optional("seq", kInteger)};
}

}  // namespace

const Shape& GenerateAnswer() {
  static const Shape s("generate answer",
                       {Required("files", FieldType::kStringMap), Optional("projectId", kString)});
  return s;
}

const Shape& DeployAnswer() {
  static const Shape s("deploy answer",
                       {Required("deploymentId", kNonEmpty), Required("projectId", kNonEmpty),
                        Required("commitHash", kNonEmpty), Required("status", FieldType::kStatus),
                        Optional("websocketUrl", kString)});
  return s;
}

const Shape& StatusAnswer() {
  static const Shape s("status answer", StageFields("id"));
  return s;
}

const Shape& StageMessage() {
  static const Shape s("stage message", StageFields("deploymentId"));
  return s;
}

const Shape& VerifyAnswer() {
  static const Shape s("verify answer", {Required("valid", FieldType::kBoolean),
                                         Optional("userId", kString), Optional("email", kString)});
  return s;
}

const Shape& ErrorBody() {
  static const Shape s("error body", {Required("error", kNonEmpty), Required("message", kString)});
  return s;
}

const Shape& OAuthError() {
  static const Shape s("OAuth error",
                       {Required("error", kNonEmpty), Optional("error_description", kString)});
  return s;
}

const Shape& DeviceCodeAnswer() {
  static const Shape s(
      "device code answer",
      {Required("device_code", kNonEmpty), Required("user_code", kNonEmpty),
       Required("verification_uri", kNonEmpty), Optional("verification_uri_complete", kString),
       Required("expires_in", kInteger), Optional("interval", kInteger)});
  return s;
}

const Shape& TokenAnswer() {
  static const Shape s("token answer",
                       {Required("access_token", kNonEmpty), Required("token_type", kNonEmpty),
                        Optional("expires_in", kInteger), Optional("refresh_token", kString)});
  return s;
}

}  // namespace bim::conformance::shapes
