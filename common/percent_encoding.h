#pragma once
// Percent-encoding (RFC 3986 §2.1), the one implementation for every protocol that uses it: the
// platform's URLs and forms (common/contract.h), gRPC's grpc-message
// (ctl/wire/response_decoder.cc). A form's '+' for a space is the form's own rule
// (contract::FormDecode), not this one's.

#include <string>
#include <string_view>

namespace bim {

// Every byte but the unreserved ones (letters, digits, - _ . ~) as %XX, upper-case hex.
std::string PercentEncode(std::string_view s);
// %XX (either case) to its byte; a malformed escape ("%zz", a '%' near the end) stays as it
// came, as gRPC's own client keeps it; every other byte, '+' included, is itself.
std::string PercentDecode(std::string_view s);

}  // namespace bim
