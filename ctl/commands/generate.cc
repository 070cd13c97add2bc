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
  auto* gen = cli.app().add_subcommand(
      "generate", "Generate a FastAPI backend from a prompt into a local folder");
  auto& a = cli.Value<GenerateArgs>();
  gen->add_option("prompt", a.prompt, "What the backend should do, e.g. \"REST API for users\"")
      ->required();
  gen->add_option("-o,--output", a.dir,
                  "Folder to write to (default: a name made from the prompt)");
  auto* editor =
      gen->add_option("-e,--editor", a.editor,
                      "Open the folder in this editor afterwards (no name: $VISUAL, then $EDITOR)")
          ->expected(0, 1);
  gen->add_flag("--force", a.force, "Overwrite local files whose content differs");
  cli.OnRun(gen, [&a, editor](CommandContext& c) {
    a.open_editor = editor->count() > 0;
    return Generate(c, a);
  });
}

}  // namespace bim::ctl
