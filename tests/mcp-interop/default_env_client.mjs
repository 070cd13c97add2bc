// How hosts built on the official MCP TypeScript SDK start a server: StdioClientTransport with
// no `env`, so the server gets only the SDK's default environment (HOME, LOGNAME, PATH, SHELL,
// TERM, USER) and no XDG_RUNTIME_DIR, XDG_STATE_HOME or BACKEND_IM_* settings.
//
//   node default_env_client.mjs /abs/path/backend-im
//
// Calls auth_status and prints its structuredContent as one JSON line; exits 1 on any error.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";

const [bin] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node default_env_client.mjs BACKEND_IM_BINARY");
  process.exit(2);
}
console.error(`server environment: ${Object.keys(getDefaultEnvironment()).sort().join(" ")}`);

const client = new Client({ name: "backend-im-default-env-test", version: "1.0.0" });
const transport = new StdioClientTransport({ command: bin, args: ["mcp"], stderr: "inherit" });
try {
  await client.connect(transport);
  const r = await client.callTool({ name: "auth_status", arguments: {} });
  if (r.isError) throw new Error(`auth_status failed: ${JSON.stringify(r.content)}`);
  console.log(JSON.stringify(r.structuredContent));
  await client.close();
} catch (e) {
  console.error(`default-env client: ${e.message}`);
  process.exit(1);
}
