#pragma once
// Opening a generated project in the user's editor: the named one, else $VISUAL, else $EDITOR.
// A graphical editor is started detached; a terminal editor (vi, vim, nvim, nano, emacs, micro,
// hx) runs in the foreground when there is a terminal, since detached it would have none.
// An editor that cannot be found is a warning for the caller to print, never a failure.

#include <string>

#include "common/result.h"

namespace bim::ctl {

// name empty: $VISUAL, then $EDITOR. Returns a message to show on success.
Result<std::string> OpenEditor(const std::string& name, const std::string& dir);

}  // namespace bim::ctl
