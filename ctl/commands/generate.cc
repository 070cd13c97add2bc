// backend-im generate PROMPT [-o DIR] [-e [EDITOR]] [--force]
#include "common/path_policy.h"
#include "ctl/commands/command.h"
#include "ctl/editor.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct GenerateArgs {
  std::string prompt;
  std::string dir;
  std::string editor;
  bool open_editor = false;
  bool force = false;
};

int Generate(CommandContext& c, const GenerateArgs& a) {
  std::string dir = a.dir.empty() ? FolderNameForPrompt(a.prompt) : a.dir;
  if (!c.json() && IsValidUtf8(a.prompt)) PrintErr("Generating...\n");
  auto done = c.ops().Generate(a.prompt, dir, a.force, c.cancel());
  if (!done.ok()) {
    return c.Failed(done.error(),
                    done.error().kind == OpFailure::kUsage ? "generate" : "generate failed");
  }
  std::string editor_note;
  if (a.open_editor) {
    auto opened = OpenEditor(a.editor, dir);
    editor_note = opened.ok() ? *opened : "warning: " + opened.error().message;
  }
  if (c.json()) {
    nlohmann::json j = GenerateModel(*done);
    if (!editor_note.empty()) j["editor"] = editor_note;
    PrintJson(j);
    return kExitOk;
  }
  Print("{} Generated {} files in {}\n", c.style().Green("✓"), done->files.size(), dir);
  for (const auto& [path, content] : done->files) Print("  {}\n", path);
  PrintUnchanged(done->report);
  if (!editor_note.empty()) PrintErr("{}\n", editor_note);
  Print("Next: edit the files, then `cd {} && backend-im deploy --watch`\n", dir);
  return kExitOk;
}

}  // namespace

void AddGenerateCommand(CommandLine& cli) {
  auto* gen = cli.Add("generate");
  auto& a = cli.Value<GenerateArgs>();
  cli.Option(gen, "prompt", a.prompt)->required();
  cli.Option(gen, "-o,--output", a.dir);
  auto* editor = cli.Option(gen, "-e,--editor", a.editor)->expected(0, 1);
  cli.Flag(gen, "--force", a.force);
  cli.OnRun(gen, [&a, editor](CommandContext& c) {
    a.open_editor = editor->count() > 0;
    return Generate(c, a);
  });
}

}  // namespace bim::ctl
