#pragma once
// The shapes of docs/API_CONTRACTS.md, written down once for the checks. A field is required
// when the contract's text or its SEED examples always show it, optional when the contract
// calls it optional or an extension (seq, projectId from generate, userId/email, ...).
//
// Each function returns a reference to an immutable static; safe from any thread.

#include "conformance/shape.h"

namespace bim::conformance::shapes {

const Shape& GenerateAnswer();    // POST /api/generate, 200
const Shape& DeployAnswer();      // POST /api/deploy, 200
const Shape& StatusAnswer();      // GET /api/status/{id}, 200
const Shape& StageMessage();      // one WebSocket message
const Shape& VerifyAnswer();      // GET /api/auth/verify, 200
const Shape& ErrorBody();         // every /api/* error (extension)
const Shape& OAuthError();        // RFC 6749 §5.2, /oauth/*
const Shape& DeviceCodeAnswer();  // RFC 8628 §3.2
const Shape& TokenAnswer();       // RFC 6749 §5.1

}  // namespace bim::conformance::shapes
