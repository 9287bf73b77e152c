import { Client as LangGraphClient } from "@langchain/langgraph-sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

let stack: TestStack;
let langgraph: LangGraphClient;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  langgraph = new LangGraphClient({ apiUrl: stack.url });
}, 90_000);
afterAll(() => stack?.stop());

/** The SDK's client over Streamable HTTP, connected (initialized) to LangOpen's MCP endpoint. */
async function connect(path = "/mcp"): Promise<Client> {
  const client = new Client({ name: "langopen-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.url}${path}`)));
  return client;
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) => {
  const content = result.content as Array<{ type: string; text?: string }>;
  return content.map((c) => c.text ?? "").join("");
};

describe("MCP over the SDK's client", () => {
  it("lists one tool per assistant, with the graph's input schema", async () => {
    const client = await connect();
    expect(client.getServerVersion()?.name).toBe("LangOpen");
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "steps", "slow", "interrupt", "parent", "chat", "blocking"]));
    const interrupt = tools.find((t) => t.name === "interrupt");
    expect(interrupt?.inputSchema).toMatchObject({ type: "object", properties: { question: expect.any(Object) } });
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.description).toEqual(expect.any(String));
    }
    await client.close();
  });

  it("runs the assistant when a tool is called, without keeping a thread", async () => {
    const client = await connect();
    const threads = await langgraph.threads.count({});
    const echo = await client.callTool({ name: "echo", arguments: { messages: [{ role: "user", content: "hi there" }] } });
    expect(echo.isError).toBeFalsy();
    expect(textOf(echo)).toBe("You said: hi there");

    // Without messages, the answer is the final values.
    const steps = await client.callTool({ name: "steps", arguments: { topic: "mcp" } });
    expect(JSON.parse(textOf(steps))).toMatchObject({ topic: "mcp", trail: ["first", "second", "third"], count: 3 });
    expect(await langgraph.threads.count({})).toBe(threads);
    await client.close();
  });

  it("names new assistants' tools after them, and answers a failed run as an error result", async () => {
    await langgraph.assistants.create({ graphId: "steps", name: "tight steps!", config: { recursion_limit: 1 } });
    const client = await connect("/mcp/");
    const { tools } = await client.listTools();
    const tight = tools.find((t) => t.name === "tight_steps");
    expect(tight?.title).toBe("tight steps!");
    const result = await client.callTool({ name: "tight_steps", arguments: { topic: "x" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/recursion/i);

    await expect(client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toThrow(/Unknown tool: no_such_tool/);
    await client.close();
  });
});

describe("the transport's HTTP rules", () => {
  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  };
  const post = (body: string, accept = "application/json, text/event-stream", path = "/mcp") =>
    fetch(`${stack.url}${path}`, { method: "POST", headers: { "content-type": "application/json", accept }, body });

  it("answers a stateless JSON response, with no session", async () => {
    const res = await post(JSON.stringify(initialize), "application/json, text/event-stream", "/mcp/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: 1, result: { serverInfo: { name: "LangOpen" } } });

    const notification = await post(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
    expect(notification.status).toBe(202);
  });

  it("refuses bad requests with the transport's statuses", async () => {
    const notAcceptable = await post(JSON.stringify(initialize), "application/json");
    expect(notAcceptable.status).toBe(406);
    const invalid = await post("{not json");
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    const notRpc = await post(JSON.stringify({ hello: "world" }));
    expect(notRpc.status).toBe(400);
    expect(((await notRpc.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const wrongType = await fetch(`${stack.url}/mcp`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
    expect(wrongType.status).toBe(415);

    const get = await fetch(`${stack.url}/mcp`, { headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, DELETE");
    const del = await fetch(`${stack.url}/mcp/`, { method: "DELETE" });
    expect(del.status).toBe(404);
    const put = await fetch(`${stack.url}/mcp`, { method: "PUT" });
    expect(put.status).toBe(405);
  });
});
