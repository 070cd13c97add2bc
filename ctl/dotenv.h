#pragma once
// Dotenv text: what `env pull` writes and `env import` reads. The dialect is python-dotenv's
// (what a FastAPI project loads with load_dotenv), so a pulled file reads back as it was:
//   KEY='value'          a value without ', \, CR or LF, taken as it is
//   KEY="va\"lue\n"      any other value, with \\ \" \n \r escaped
//   KEY=value\          one that ends with a backslash (python-dotenv cannot read it quoted)
// python-dotenv expands ${NAME} in every value unless read with interpolate=False; dotenv has
// no escape for it, so a value holding "${" reads back expanded (HasExpansion names those).
//
// Reading takes the lines a person or another tool wrote: blank lines, # comments, an optional
// `export `, a value single-quoted, double-quoted (escapes \\ \' \" \a \b \f \n \r \t \v, and
// line breaks inside the quotes), or bare (up to a ` #` comment, trailing blanks dropped). A line
// it cannot read is an error naming its line number, never its text: the text holds a value.
//
// Pure functions, no I/O.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace bim::ctl {

struct DotenvEntry {
  std::string key;
  std::string value;
};

// One line, KEY=<quoted value> and a newline; an error (kInvalidArgument, naming the key, never
// the value) for the rare value that no form reads back the same: one that ends with a
// backslash and cannot go bare (a line break, a quote first, blanks at an end).
Result<std::string> DotenvLine(std::string_view key, std::string_view value);

// Whether python-dotenv would expand part of value (it holds "${").
bool HasExpansion(std::string_view value);

// The entries of text, in order; a key given twice is kept once, with its last value (as
// python-dotenv reads it), at its first place. An error names the line and what is wrong with
// it (kInvalidArgument). Keys are checked with contract::ValidateVariableKey; an empty value is
// an error, as `env set` refuses one.
Result<std::vector<DotenvEntry>> ParseDotenv(std::string_view text);

}  // namespace bim::ctl
