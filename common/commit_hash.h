#pragma once
// The platform's commit hash rule (docs/API_CONTRACTS.md): the first 12 hex digits of
// SHA-256 over, for each file in byte-wise sorted path order, the path bytes followed by the
// content bytes. The agent uses it to check the platform's answer; the mock to make one.

#include <string>
#include <string_view>

#include "common/contract.h"

namespace bim {

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);

// FileMap is a std::map<std::string, ...>, whose order is byte-wise (char_traits<char>
// compares as unsigned char), which is exactly the order the rule asks for.
std::string CommitHash(const contract::FileMap& files);

}  // namespace bim
