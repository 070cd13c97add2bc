// What every interop client does the same way: read its arguments, check, hand the server this
// process's whole environment (HOME, XDG_*, BACKEND_IM_API_URL, ...) over stdio, write a small
// project to deploy, and turn the outcome of main() into the exit code the C++ tests read.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// The arguments after the script's name; exits 2 with the usage line when fewer than `count`
// are given or `valid` rejects them.
export function args(usage, count, valid = () => true) {
  const given = process.argv.slice(2);
  if (given.slice(0, count).filter(Boolean).length < count || !valid(given)) {
    console.error(`usage: node ${usage}`);
    process.exit(2);
  }
  return given;
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// `backend-im mcp` over stdio with this process's environment, its stderr passed through.
export function serverTransport(StdioClientTransport, bin) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === "string") env[k] = v;
  return new StdioClientTransport({ command: bin, args: ["mcp"], env, stderr: "inherit" });
}

// A FastAPI project in workdir/name, with any extra files; returns its folder.
export function project(workdir, name, extra = {}) {
  const dir = join(workdir, name);
  mkdirSync(dir, { recursive: true });
  const files = { "main.py": "from fastapi import FastAPI\napp = FastAPI()\n", ...extra };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

// Runs main: exit 0 when it resolves; otherwise print "<label> FAILED: <reason>", close the
// client if there is one, and exit 1.
export function run(label, main, client) {
  main().then(
    () => process.exit(0),
    async (e) => {
      console.error(`${label} FAILED: ${e?.stack ?? e}`);
      try {
        await client()?.close();
      } catch {}
      process.exit(1);
    });
}
