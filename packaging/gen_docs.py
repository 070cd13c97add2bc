#!/usr/bin/env python3
"""Man pages and shell completions for backend-im, generated from the programs' own --help.

Every page and completion is built by running the freshly built binary with --help for each
command and subcommand (CLI11's format), so they cannot drift from what the programs accept.
Hand-written extra sections (ENVIRONMENT, FILES, SEE ALSO) come from man/<program>.extra.

  gen_docs.py man BINARY NAME VERSION EXTRA_FILE OUT.1
  gen_docs.py completions BINARY NAME OUT_DIR
"""
import datetime
import os
import re
import subprocess
import sys


def help_text(binary, path):
    out = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, check=True)
    return out.stdout


def parse(text):
    """Splits CLI11 help into description, usage, options [(flags, text)], subcommands."""
    desc, usage, options, subs = [], "", [], []
    section = "desc"
    for line in text.splitlines():
        if line.startswith("Usage:"):
            usage = line[len("Usage:"):].strip()
            section = None
            continue
        if line.rstrip() in ("Options:", "OPTIONS:"):
            section = "options"
            continue
        if line.rstrip() in ("Subcommands:", "SUBCOMMANDS:"):
            section = "subs"
            continue
        if section == "desc":
            desc.append(line)
        elif section in ("options", "subs") and line.startswith("  "):
            m = re.match(r"^\s+(\S.*?)(?:\s{2,}(.*))?$", line)
            if not m:
                continue
            if section == "options":
                options.append((m.group(1), m.group(2) or ""))
            else:
                subs.append((m.group(1), m.group(2) or ""))
    return "\n".join(desc).strip(), usage, options, subs


def walk(binary, path=()):
    """Yields (path, description, usage, options, subcommands) for every command."""
    desc, usage, options, subs = parse(help_text(binary, list(path)))
    yield path, desc, usage, options, subs
    for name, _ in subs:
        yield from walk(binary, path + (name,))


def flag_names(flags):
    """'-d,--dir TEXT' -> ['-d', '--dir']"""
    names = []
    for part in flags.split(","):
        word = part.strip().split(" ")[0]
        if word.startswith("-"):
            names.append(word)
    return names


def roff(text):
    lines = []
    for line in text.splitlines():
        line = line.replace("\\", "\\\\").replace("-", "\\-")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def make_man(binary, name, version, extra_file, out):
    commands = list(walk(binary))
    root_desc = commands[0][1]
    summary = root_desc.splitlines()[0].split(": ", 1)[-1] if root_desc else name
    epoch = os.environ.get("SOURCE_DATE_EPOCH")  # reproducible builds set it
    date = (datetime.datetime.utcfromtimestamp(int(epoch)).date() if epoch else datetime.date.today()).isoformat()
    page = [f'.TH {name.upper()} 1 "{date}" "{name} {version}" "User Commands"',
            ".SH NAME", f"{name} \\- {roff(summary)}", ".SH SYNOPSIS"]
    page.append(f".B {roff(commands[0][2])}")
    page += [".SH DESCRIPTION", ".nf", roff(root_desc), ".fi"]
    for path, desc, usage, options, subs in commands:
        title = " ".join((name,) + path)
        page.append(".SH " + ("OPTIONS" if not path else roff(title.upper())))
        if path:
            page += [".nf", roff(desc), ".fi", ".PP", f".B {roff(usage)}"]
        for flags, text in options:
            page += [".TP", f".B {roff(flags)}", roff(text)]
        if subs and path:
            page.append(".PP\nSubcommands: " + ", ".join(roff(s) for s, _ in subs) + ".")
    if extra_file and os.path.exists(extra_file):
        with open(extra_file) as f:
            page.append(f.read().rstrip())
    with open(out, "w") as f:
        f.write("\n".join(page) + "\n")


def completion_function(fn, head, loop, table, reply):
    """The completion function of bash and of zsh, alike but for the shell's own lines: head
    (its locals), loop (the loop over the words typed so far, each in $w) and reply(words), the
    way to offer a command's words. The loop follows the subcommands typed into $path; then the
    command at $path offers its subcommands and options."""
    lines = [f"{fn}() {{", *head, "  path=\"\"", *loop,
             "    [[ $w == -* ]] && continue",
             "    case \"$path${path:+ }$w\" in"]
    lines += [f"      \"{key}\") path=\"{key}\" ;;" for key in table if key]
    lines += ["    esac", "  done", "  case \"$path\" in"]
    lines += [f"    \"{key}\") {reply(words)} ;;" for key, words in table.items()]
    return lines + ["  esac", "}"]


def make_completions(binary, name, out_dir):
    commands = list(walk(binary))
    table = {}
    for path, desc, usage, options, subs in commands:
        words = [s for s, _ in subs]
        for flags, _ in options:
            words += flag_names(flags)
        table[" ".join(path)] = words
    fn = "_" + name.replace("-", "_")

    bash = [f"# bash completion for {name}; generated from `{name} --help` by gen_docs.py"]
    bash += completion_function(
        fn, ["  local cur path w i", "  cur=\"${COMP_WORDS[COMP_CWORD]}\""],
        ["  for ((i = 1; i < COMP_CWORD; i++)); do", "    w=\"${COMP_WORDS[i]}\""], table,
        lambda words: f"COMPREPLY=($(compgen -W \"{' '.join(words)}\" -- \"$cur\"))")
    bash += [f"complete -F {fn} {name}", ""]
    with open(os.path.join(out_dir, name), "w") as f:
        f.write("\n".join(bash))

    zsh = [f"#compdef {name}", f"# zsh completion for {name}; generated from `{name} --help` by gen_docs.py"]
    zsh += completion_function(
        fn, ["  local path w"], ["  for w in ${words[2,CURRENT-1]}; do"], table,
        lambda words: f"compadd -- {' '.join(words)}")
    zsh += [f'{fn} "$@"', ""]
    with open(os.path.join(out_dir, "_" + name), "w") as f:
        f.write("\n".join(zsh))

    fish = [f"# fish completion for {name}; generated from `{name} --help` by gen_docs.py"]
    for path, desc, usage, options, subs in commands:
        sub_names = " ".join(s for s, _ in subs)
        if not path:
            cond = "__fish_use_subcommand"
        else:
            cond = " ; and ".join(f"__fish_seen_subcommand_from {p}" for p in path)
            if sub_names:
                cond += f" ; and not __fish_seen_subcommand_from {sub_names}"
        for s, d in subs:
            fish.append(f"complete -c {name} -f -n '{cond}' -a '{s}' -d {quote_fish(d)}")
        for flags, d in options:
            for n in flag_names(flags):
                opt = f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}"
                fish.append(f"complete -c {name} -n '{cond}' {opt} -d {quote_fish(d)}")
    with open(os.path.join(out_dir, name + ".fish"), "w") as f:
        f.write("\n".join(fish) + "\n")


def quote_fish(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main(argv):
    if len(argv) >= 6 and argv[1] == "man":
        make_man(argv[2], argv[3], argv[4], argv[5], argv[6])
    elif len(argv) == 5 and argv[1] == "completions":
        make_completions(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
