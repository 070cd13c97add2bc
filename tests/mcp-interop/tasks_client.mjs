// The official MCP TypeScript SDK 1.32 client runs deploy as a 2025-11-25 task: it negotiates
// 2025-11-25, sees the tasks capability and deploy's execution.taskSupport in tools/list, so
// client.experimental.tasks.callToolStream() augments the call by itself; then it polls
// tasks/get and fetches tasks/result, which must end with the deployment's URL. A second task
// is cancelled with tasks/cancel, and the deployment it started must still complete.
//
//   node tasks_client.mjs /abs/path/backend-im /a/work/folder
//
// Exits 0 and prints "tasks ok <url>"; exits 1 with the reason otherwise.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { args, check, project as fastApiProject, run, serverTransport } from "./common.mjs";

const [bin, workdir] = args("tasks_client.mjs BACKEND_IM_BINARY WORK_FOLDER", 2);

const project = (name) => fastApiProject(workdir, name, { "requirements.txt": "fastapi\n" });

const client = new Client({ name: "backend-im-tasks-test", version: "1.0.0" });
const transport = serverTransport(StdioClientTransport, bin);

async function main() {
  await client.connect(transport);
  check(client.getServerCapabilities()?.tasks?.requests?.tools?.call,
    `the server declares tasks for tools/call: ${JSON.stringify(client.getServerCapabilities())}`);
  const { tools } = await client.listTools();
  const deploy = tools.find((t) => t.name === "deploy");
  check(deploy?.execution?.taskSupport === "optional", "deploy has taskSupport optional");

  // No explicit task option: the SDK decides from the capability and the tool's taskSupport.
  const seen = [];
  let result;
  let taskId;
  for await (const m of client.experimental.tasks.callToolStream(
    { name: "deploy", arguments: { directory: project("task-api") } })) {
    if (m.type === "taskCreated") taskId = m.task.taskId;
    if (m.type === "taskStatus") seen.push(`${m.task.status}(${m.task.statusMessage ?? ""})`);
    if (m.type === "result") result = m.result;
    if (m.type === "error") throw m.error;
  }
  check(taskId, "a task was created");
  check(result && !result.isError, `the task's result is a success: ${JSON.stringify(result)}`);
  const sc = result.structuredContent;
  check(sc.status === "complete", `the deployment is complete, got ${sc.status}`);
  const url = `https://${sc.commitHash}.backend.im`;
  check(sc.url === url, `url ${url}, got ${sc.url}`);
  check(result._meta?.["io.modelcontextprotocol/related-task"]?.taskId === taskId,
    "tasks/result names its task");
  console.log(`task ${taskId}: ${seen.join(" > ")}`);
  const listed = await client.experimental.tasks.listTasks();
  check(listed.tasks.some((t) => t.taskId === taskId && t.status === "completed"),
    "tasks/list shows it completed");

  // Cancel: tasks/cancel answers with the task, cancelled; the stream then ends with an error.
  let cancelled;
  let streamError;
  for await (const m of client.experimental.tasks.callToolStream(
    { name: "deploy", arguments: { directory: project("cancel-api") } })) {
    if (m.type === "taskCreated") cancelled = await client.experimental.tasks.cancelTask(m.task.taskId);
    if (m.type === "error") streamError = m.error;
  }
  check(cancelled?.status === "cancelled", `tasks/cancel answers cancelled: ${JSON.stringify(cancelled)}`);
  check(/cancelled/.test(String(streamError?.message)), `the stream ends cancelled: ${streamError}`);
  const again = await client.experimental.tasks.getTask(cancelled.taskId);
  check(again.status === "cancelled", "the task stays cancelled");
  console.log(`cancelled task ${cancelled.taskId}`);

  await client.close();
  console.log(`tasks ok ${url}`);
}

run("tasks", main, () => client);
