// The official MCP TypeScript client 2.x (@modelcontextprotocol/client), pinned to protocol
// 2026-07-28: it probes with server/discover (on a sibling process, for the stdio transport),
// then sends every request with the _meta envelope and no initialize. It lists the tools and
// deploys a project, then waits for the URL.
//
//   node modern_client.mjs /abs/path/backend-im /a/work/folder
//
// Exits 0 and prints "modern ok <url>"; exits 1 with the reason otherwise.
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { args, check, project, run, serverTransport } from "./common.mjs";

const [bin, workdir] = args("modern_client.mjs BACKEND_IM_BINARY WORK_FOLDER", 2);

const client = new Client({ name: "backend-im-modern-test", version: "1.0.0" },
  { versionNegotiation: { mode: { pin: "2026-07-28" } } });
const transport = serverTransport(StdioClientTransport, bin);

async function main() {
  await client.connect(transport);
  check(client.getNegotiatedProtocolVersion() === "2026-07-28",
    `negotiated 2026-07-28, got ${client.getNegotiatedProtocolVersion()}`);
  check(client.getServerVersion()?.name === "backend-im", "server name is backend-im");
  check(client.getServerCapabilities()?.tools, "the server declares tools");
  console.log(`connected to ${client.getServerVersion().name} at ${client.getNegotiatedProtocolVersion()}`);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(names.length === 17 && names.includes("deploy") && names.includes("get_logs"),
    `seventeen tools, get_logs among them, got ${names}`);
  console.log(`tools: ${names.join(", ")}`);

  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    check(!r.isError, `${name} succeeded: ${JSON.stringify(r.content)}`);
    return r.structuredContent;
  };
  check((await call("auth_status", {})).loggedIn === true, "logged in");
  const dep = await call("deploy", { directory: project(workdir, "modern-api") });
  const done = await call("wait_for_deployment",
    { deploymentId: dep.deploymentId, timeoutSeconds: 30 });
  const url = `https://${dep.commitHash}.backend.im`;
  check(done.status === "complete" && done.url === url, `complete at ${url}, got ${JSON.stringify(done)}`);
  await client.close();
  console.log(`modern ok ${url}`);
}

run("modern", main, () => client);
