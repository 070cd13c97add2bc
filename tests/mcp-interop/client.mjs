// An MCP client that nobody here wrote: the official TypeScript SDK's Client over its
// StdioClientTransport drives `backend-im mcp` through generate -> deploy ->
// wait_for_deployment against whatever platform the environment names (the mock in tests).
//
//   node client.mjs /abs/path/backend-im /a/work/folder
//
// The server gets this process's whole environment (HOME, XDG_*, BACKEND_IM_API_URL, ...).
// Exits 0 and prints "interop ok <url>" when the deployment completed at
// https://<commitHash>.backend.im; exits 1 with the reason otherwise.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { args, check, run, serverTransport } from "./common.mjs";

const [bin, workdir] = args("client.mjs BACKEND_IM_BINARY WORK_FOLDER", 2);


const client = new Client({ name: "backend-im-interop-test", version: "1.0.0" });
const transport = serverTransport(StdioClientTransport, bin);

async function main() {
  await client.connect(transport);
  const info = client.getServerVersion();
  check(info?.name === "backend-im", `server name is backend-im, got ${JSON.stringify(info)}`);
  check(client.getServerCapabilities()?.tools, "the server declares tools");
  console.log(`connected to ${info.name} ${info.version}`);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  const expected = ["auth_login_check", "auth_login_start", "auth_status", "deploy",
    "deployment_status", "diff", "generate", "get_logs", "list_deployments", "list_environments",
    "list_variables", "promote", "restore", "rollback", "set_variable", "unset_variable",
    "wait_for_deployment"];
  check(JSON.stringify(names) === JSON.stringify(expected), `tools are ${expected}, got ${names}`);
  for (const t of tools) {
    check(t.inputSchema?.type === "object", `${t.name}: inputSchema is an object schema`);
    check(t.outputSchema?.type === "object", `${t.name}: outputSchema is an object schema`);
  }
  console.log(`tools: ${names.join(", ")}`);

  // callTool validates each structuredContent against the tool's outputSchema.
  const call = async (name, args, options) => {
    const r = await client.callTool({ name, arguments: args }, undefined, options);
    check(!r.isError, `${name} succeeded: ${JSON.stringify(r.content)}`);
    check(r.structuredContent, `${name} returned structuredContent`);
    check(JSON.stringify(JSON.parse(r.content[0].text)) === JSON.stringify(r.structuredContent),
      `${name}: the text content is the structured content`);
    return r.structuredContent;
  };

  const auth = await call("auth_status", {});
  check(auth.loggedIn === true, "logged in");

  const dir = join(workdir, "users-api");
  const gen = await call("generate", { prompt: "REST API for users and orders", directory: dir });
  check(gen.files.length > 0 && existsSync(join(dir, "main.py")), "generate wrote main.py");
  console.log(`generated ${gen.files.length} files in ${gen.directory}`);

  const dep = await call("deploy", { directory: dir });
  check(/^[0-9a-f]{12}$/.test(dep.commitHash), `a commit hash, got ${dep.commitHash}`);
  console.log(`deployment ${dep.deploymentId} commit ${dep.commitHash}`);

  const stages = [];
  const done = await call("wait_for_deployment",
    { deploymentId: dep.deploymentId, timeoutSeconds: 30 },
    { onprogress: (p) => stages.push(p.message), timeout: 45000 });
  check(done.status === "complete", `status complete, got ${done.status}: ${done.logs}`);
  const url = `https://${dep.commitHash}.backend.im`;
  check(done.url === url, `url ${url}, got ${done.url}`);
  // The server sends a progress notification for every stage before the result (the raw
  // protocol tests check all eight). The SDK runs notification handlers in a microtask but
  // handles the response at once, so a last notification that arrives in the same read as the
  // result can be dropped here: require the stages in order, up to at least health_check.
  const order = ["queued", "committing", "creating_namespace", "creating_pvc", "building",
    "deploying", "health_check", "complete"];
  const seen = stages.map((s) => order.indexOf(s.split(":")[0]));
  check(seen.length >= 7 && seen.every((v, i) => v >= 0 && (i === 0 || v > seen[i - 1])) &&
    seen[seen.length - 1] >= order.indexOf("health_check"),
    `progress in order up to health_check or complete, got ${JSON.stringify(stages)}`);
  console.log(`progress: ${stages.map((s) => s.split(":")[0]).join(" > ")}`);

  const status = await call("deployment_status", { deploymentId: dep.deploymentId });
  check(status.url === url, "deployment_status agrees");
  const list = await call("list_deployments", { limit: 5 });
  check(list.deployments.length === 1 && list.deployments[0].deploymentId === dep.deploymentId,
    "list_deployments shows it");
  // The mock runs no apps here, so the app printed nothing; the SDK checks the result against
  // the tool's output schema.
  const logs = await call("get_logs", { deploymentId: dep.deploymentId, maxLines: 10 });
  check(logs.deploymentId === dep.deploymentId && Array.isArray(logs.lines) &&
    logs.lines.length === 0 && logs.cut === false, `get_logs answers, got ${JSON.stringify(logs)}`);

  // An unknown tool is a protocol error (-32602), which the SDK raises.
  let code = 0;
  try {
    await client.callTool({ name: "no_such_tool", arguments: {} });
  } catch (e) {
    code = e instanceof McpError ? e.code : -1;
  }
  check(code === -32602, `unknown tool gives -32602, got ${code}`);

  await client.close();
  console.log(`interop ok ${url}`);
}

run("interop", main, () => client);
