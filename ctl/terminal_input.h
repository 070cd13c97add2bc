#pragma once
// What the ctl reads from a person at its standard input: a secret, a variable's value for
// `env set` (never from the command line, where ps and the shell's history see it), and a yes or
// no before something is removed (`environments rm`).
//
// A secret: on a terminal it prompts there and reads one line with echo off (termios), so the
// value never shows on the screen; Ctrl-C (or SIGTERM) puts the echo back before the command
// ends. Otherwise (a pipe, a file) it reads everything and drops one trailing newline, as
// `printf '%s\n' "$V" |` and `< file` give it. The calling thread blocks; one call at a time
// (they use the ctl's interrupt::Interruptible).

#include <cstddef>
#include <string>

#include "ctl/op_result.h"

namespace bim::ctl {

// The value read from fd, of at most max_bytes (more: kUsage). prompt goes to the terminal
// only. A cancel (Ctrl-C) is kCancelled; a read error kLocalFiles.
OpResult<std::string> ReadSecret(int fd, const std::string& prompt, size_t max_bytes);

// Whether fd is a terminal, where a person can be asked.
bool IsTerminal(int fd);

// Asks question on the terminal fd and reads the answer: true for y or yes (any case), false
// for anything else, an empty line or the end of input. Ctrl-C is kCancelled.
OpResult<bool> AskYesNo(int fd, const std::string& question);

}  // namespace bim::ctl
