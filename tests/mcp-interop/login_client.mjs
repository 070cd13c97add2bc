// Login from inside the assistant, with the official MCP TypeScript clients: a client that
// declares URL-mode elicitation calls generate while the agent is logged out. The server must
// send the person to the platform's device-login page through the client, wait for the
// approval, and then generate.
//   2025-11-25 (SDK 1.32): the server sends elicitation/create; the SDK calls our handler.
//   2026-07-28 (client 2.x, pinned): tools/call answers input_required; the client calls our
//   handler and repeats the call with the answer and the requestState, by itself.
// The handler plays the person: it opens the page (GET) and approves the code there, as the
// mock's form does (POST /oauth/device/approve).
//
//   node login_client.mjs 2025-11-25|2026-07-28 /abs/path/backend-im /a/work/folder
//
// Exits 0 and prints "login ok <era>"; exits 1 with the reason otherwise.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { args, check, run, serverTransport } from "./common.mjs";

const [era, bin, workdir] = args(
  "login_client.mjs 2025-11-25|2026-07-28 BACKEND_IM_BINARY WORK_FOLDER", 3,
  ([era]) => ["2025-11-25", "2026-07-28"].includes(era));

const asked = [];
// What a person does with the page the assistant shows them.
async function openAndApprove(params) {
  check(params.mode === "url", `URL mode, got ${JSON.stringify(params)}`);
  asked.push(params);
  const url = new URL(params.url);
  const code = url.searchParams.get("user_code");
  check(code && params.message.includes(code), `the message names the code: ${params.message}`);
  const page = await fetch(url);
  check(page.ok, `the login page opens: ${page.status}`);
  const approve = await fetch(new URL("/oauth/device/approve", url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `user_code=${encodeURIComponent(code)}`,
  });
  check(approve.ok, `the approval is accepted: ${approve.status}`);
  return { action: "accept" };
}

let client;
const completed = [];
if (era === "2025-11-25") {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
  const { ElicitRequestSchema, ElicitationCompleteNotificationSchema } =
    await import("@modelcontextprotocol/sdk/types.js");
  client = new Client({ name: "backend-im-login-test", version: "1.0.0" },
    { capabilities: { elicitation: { url: {} } } });
  client.setRequestHandler(ElicitRequestSchema, (request) => openAndApprove(request.params));
  client.setNotificationHandler(ElicitationCompleteNotificationSchema,
    (n) => completed.push(n.params.elicitationId));
  await client.connect(serverTransport(StdioClientTransport, bin));
  check(client.getServerVersion()?.name === "backend-im", "connected");
} else {
  const { Client } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
  client = new Client({ name: "backend-im-login-test", version: "1.0.0" },
    { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: era } } });
  client.setRequestHandler("elicitation/create", (request) => openAndApprove(request.params));
  await client.connect(serverTransport(StdioClientTransport, bin));
  check(client.getNegotiatedProtocolVersion() === era, `negotiated ${era}`);
}

async function main() {
  const before = await client.callTool({ name: "auth_status", arguments: {} });
  check(before.structuredContent.loggedIn === false, "logged out at first");
  const dir = join(workdir, "login-api");
  const r = await client.callTool({ name: "generate", arguments: { prompt: "todo API", directory: dir } },
    undefined, { timeout: 60000 });
  check(!r.isError, `generate succeeded after the login: ${JSON.stringify(r.content)}`);
  check(asked.length === 1, `the person was asked once, got ${asked.length}`);
  check(existsSync(join(dir, "main.py")), "main.py was written");
  if (era === "2025-11-25") {
    check(completed.length === 1 && completed[0] === asked[0].elicitationId,
      `elicitation/complete named the elicitation: ${JSON.stringify(completed)}`);
  }
  const after = await client.callTool({ name: "auth_status", arguments: {} });
  check(after.structuredContent.loggedIn === true && after.structuredContent.source === "device",
    `logged in by the device flow: ${JSON.stringify(after.structuredContent)}`);
  await client.close();
  console.log(`login ok ${era}`);
}

run("login", main, () => client);
