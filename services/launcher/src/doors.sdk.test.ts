import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { createLogger, createRpcTransport, type LanggraphHttpConfig } from "@langopen/common";
import { buildApp } from "@langopen/gateway";
import { createTestDatabase, until } from "@langopen/testkit";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LangOpen, startLangOpen } from "./compose.js";
import { INTERNAL_WORDING } from "./test-fixtures/internal-wording.js";
import { spawnLauncher } from "./test-fixtures/launcher-process.js";
import { FIXTURE_CONFIG, type TestStack } from "./test-fixtures/stack.js";
import { startTunedStack } from "./test-fixtures/tuned-stack.js";

/**
 * The gateway's doors, tried from outside with real HTTP against the real stack: pages of other
 * origins, requests for other hosts (DNS rebinding), a listener on every interface without
 * authentication, and the `http` switches of langgraph.json.
 */

const logger = createLogger({ service: "doors-test", level: "silent" });
const EVIL = "https://evil.example";
const FIXTURE_GRAPHS = pathToFileURL(fileURLToPath(new URL("./test-fixtures/graphs.mjs", import.meta.url))).href;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request over node:http, which (unlike fetch) may name any Host. */
function send(
  base: string,
  route: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; rawBody?: string } = {},
): Promise<Answer> {
  const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const headers: Record<string, string> = {
    ...(init.body !== undefined && { "content-type": "application/json" }),
    ...init.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${route}`, { method: init.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A loopback webhook receiver that records the paths it was sent to. */
function startReceiver() {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      paths.push(req.url ?? "/");
      res.writeHead(200).end("ok");
    });
  });
  return {
    paths,
    listen: () =>
      new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A project of one graph, "agent", with this `http` section, in a folder of its own. */
async function writeProject(dir: string, httpSection: LanggraphHttpConfig): Promise<string> {
  await writeFile(path.join(dir, "graph.mjs"), `export { graph } from ${JSON.stringify(FIXTURE_GRAPHS)};\n`);
  const config = path.join(dir, "langgraph.json");
  await writeFile(config, JSON.stringify({ graphs: { agent: "./graph.mjs:graph" }, http: httpSection }));
  return config;
}

let stack: TestStack;
let client: Client;
let receiver: ReturnType<typeof startReceiver>;
let receiverUrl: string;

beforeAll(async () => {
  receiver = startReceiver();
  const port = await receiver.listen();
  receiverUrl = `http://127.0.0.1:${port}`;
  stack = await startTunedStack(FIXTURE_CONFIG, {
    webhooks: { allowedHosts: [`127.0.0.1:${port}`], backoffBaseMs: 50, pollMs: 50, timeoutMs: 2_000 },
  });
  client = new Client({ apiUrl: stack.url });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const threadExists = async (threadId: string) =>
  client.threads.get(threadId).then(
    () => true,
    () => false,
  );

describe("a page of another origin", () => {
  it("cannot prune a thread with a plain cross-origin POST (no preflight)", async () => {
    const thread = await client.threads.create();
    const prune = { thread_ids: [thread.thread_id], strategy: "delete" };
    // As a script would send it, and as a form or a no-cors fetch can (text/plain needs no preflight).
    for (const contentType of ["application/json", "text/plain"]) {
      const res = await send(stack.url, "/threads/prune", {
        method: "POST",
        headers: { origin: EVIL, "content-type": contentType },
        rawBody: JSON.stringify(prune),
      });
      expect(res.status, res.text).toBe(403);
      expect(JSON.parse(res.text)).toEqual({ detail: `Origin ${EVIL} is not allowed` });
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
      expect(res.text).not.toMatch(INTERNAL_WORDING);
    }
    expect(await threadExists(thread.thread_id)).toBe(true);
  });

  it("is refused at the preflight, and the thread is still there", async () => {
    const thread = await client.threads.create();
    const res = await send(stack.url, "/threads/prune", {
      method: "OPTIONS",
      headers: { origin: EVIL, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toEqual({ detail: `Origin ${EVIL} is not allowed` });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-allow-methods"]).toBeUndefined();
    expect(await threadExists(thread.thread_id)).toBe(true);
  });

  it("is refused whatever it dresses up as: lookalikes of loopback and the opaque origin", async () => {
    for (const origin of [
      "http://localhost.evil.example",
      "http://127.0.0.1.nip.io:8123",
      "null",
      "http://localhost:3000.evil.example",
    ]) {
      const res = await send(stack.url, "/threads/search", { method: "POST", headers: { origin }, body: {} });
      expect(res.status, origin).toBe(403);
    }
  });
});

describe("a page on a loopback origin", () => {
  it("is let in, its origin echoed, and its requests take effect", async () => {
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "https://[::1]:8443"]) {
      const thread = await client.threads.create();
      const preflight = await send(stack.url, "/threads/prune", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers["access-control-allow-origin"]).toBe(origin);
      expect(preflight.headers["access-control-allow-methods"]).toContain("POST");
      expect(preflight.headers["access-control-allow-headers"]).toBe("content-type");

      const res = await send(stack.url, "/threads/prune", {
        method: "POST",
        headers: { origin },
        body: { thread_ids: [thread.thread_id], strategy: "delete" },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.headers["access-control-allow-origin"]).toBe(origin);
      expect(res.headers["access-control-expose-headers"]).toContain("X-Pagination-Total");
      expect(res.headers.vary).toContain("Origin");
      // The same request that was refused above does delete when it is allowed: the refusal is what kept the thread.
      expect(await threadExists(thread.thread_id)).toBe(false);
    }
  });
});

describe("a request for another host (DNS rebinding)", () => {
  it("is refused without running, and the Host is not echoed", async () => {
    const thread = await client.threads.create();
    const port = new URL(stack.url).port;
    // The rebound page is same-origin with its own name: it sends no preflight and its own Origin.
    const res = await send(stack.url, "/threads/prune", {
      method: "POST",
      headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
      body: { thread_ids: [thread.thread_id], strategy: "delete" },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toEqual({ detail: "Host not allowed" });
    expect(res.text).not.toContain("evil.example");
    expect(await threadExists(thread.thread_id)).toBe(true);
  });

  it("is served when the Host is a loopback name on any port", async () => {
    const port = new URL(stack.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "localhost"]) {
      const res = await send(stack.url, "/threads/search", { method: "POST", headers: { host }, body: { limit: 1 } });
      expect(res.status, host).toBe(200);
    }
  });

  it("does not make the agent card point at the Host it names", async () => {
    const [assistant] = await client.assistants.search({ graphId: "agent", limit: 1 });
    const res = await send(stack.url, `/.well-known/agent-card.json?assistant_id=${assistant?.assistant_id}`, {
      headers: { host: "attacker.localhost:9999" },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).url).toBe(`${stack.url}/a2a/${assistant?.assistant_id}`);
  });
});

describe("a listener on every interface", () => {
  it("is refused without authentication, naming the setting, before anything starts", async () => {
    const attempt = startLangOpen(
      {
        host: "0.0.0.0",
        port: 0,
        // Never reached: the refusal comes before the database is touched.
        databaseUrl: "postgres://langopen@127.0.0.1:1/unreachable",
        configPath: FIXTURE_CONFIG,
        dataDir: os.tmpdir(),
      },
      logger,
    );
    await expect(attempt).rejects.toThrow(/Refusing to listen on 0\.0\.0\.0 without authentication/);
    await expect(attempt).rejects.toThrow(/LANGOPEN_ALLOW_UNAUTHENTICATED=true/);
  });

  it("npm start exits with the message, and starts when LANGOPEN_ALLOW_UNAUTHENTICATED=true", async () => {
    const db = await createTestDatabase(inject("databaseUrl"));
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-doors-"));
    try {
      const { REDIS_URL: _redis, ...env } = process.env;
      const base = { ...env, DATABASE_URL: db.url, LANGOPEN_DATA_DIR: dataDir, LOG_LEVEL: "info", HOST: "0.0.0.0" };
      const refused = spawnLauncher(["--config", FIXTURE_CONFIG, "--port", "0"], base);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr()).toContain("LANGOPEN_ALLOW_UNAUTHENTICATED=true");

      const allowed = spawnLauncher(["--config", FIXTURE_CONFIG, "--port", "0"], {
        ...base,
        LANGOPEN_ALLOW_UNAUTHENTICATED: "true",
      });
      try {
        const ready = await allowed.waitFor("LangOpen is ready", 60_000);
        const res = await fetch(`${String(ready.url)}/ok`);
        expect(res.status).toBe(200);
      } finally {
        allowed.child.kill("SIGTERM");
        await allowed.exited;
      }
    } finally {
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("a project's http section, through the launcher", () => {
  let dir: string;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let langopen: LangOpen;
  const KEY = "sk-doors-test";

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-doors-project-"));
    db = await createTestDatabase(inject("databaseUrl"));
    langopen = await startLangOpen(
      {
        // Every interface, which API keys make acceptable.
        host: "0.0.0.0",
        port: 0,
        databaseUrl: db.url,
        configPath: await writeProject(dir, {
          cors: { allow_origins: ["https://app.example.com"] },
          allowed_hosts: ["agents.example.com"],
          disable_store: true,
        }),
        dataDir: dir,
        apiKeys: `ci=${KEY}`,
        publicUrl: "https://agents.example.com/langgraph/",
        shutdownGraceMs: 1_000,
        logLevel: "warn",
      },
      logger,
    );
  }, 90_000);

  afterAll(async () => {
    await langopen?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const withKey = (headers: Record<string, string> = {}) => ({ "x-api-key": KEY, ...headers });

  it("allows exactly its configured origins", async () => {
    const ok = await send(langopen.url, "/threads/search", {
      method: "POST",
      headers: withKey({ origin: "https://app.example.com" }),
      body: {},
    });
    expect(ok.status).toBe(200);
    expect(ok.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    for (const origin of ["http://localhost:3000", EVIL]) {
      const refused = await send(langopen.url, "/threads/search", { method: "POST", headers: withKey({ origin }), body: {} });
      expect(refused.status, origin).toBe(403);
    }
  });

  it("serves its allowed hosts and this machine's own addresses, and no other host", async () => {
    const port = new URL(langopen.url).port;
    const ownAddresses = Object.values(os.networkInterfaces())
      .flat()
      .flatMap((iface) => (iface && iface.family === "IPv4" && !iface.internal ? [iface.address] : []));
    for (const host of [`agents.example.com:${port}`, "agents.example.com", ...ownAddresses.map((a) => `${a}:${port}`)]) {
      expect((await send(langopen.url, "/ok", { headers: withKey({ host }) })).status, host).toBe(200);
    }
    expect((await send(langopen.url, "/ok", { headers: withKey({ host: `evil.example:${port}` }) })).status).toBe(403);
  });

  it("answers its disabled store as an unknown route", async () => {
    const res = await send(langopen.url, "/store/items", {
      method: "PUT",
      headers: withKey(),
      body: { namespace: ["a"], key: "k", value: {} },
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ detail: "Not Found" });
    expect((await send(langopen.url, "/threads", { method: "POST", headers: withKey(), body: {} })).status).toBe(200);
  });

  it("hands out agent cards under its public URL", async () => {
    const [assistant] = await new Client({ apiUrl: langopen.url, apiKey: KEY }).assistants.search({ limit: 1 });
    const res = await send(langopen.url, `/.well-known/agent-card.json?assistant_id=${assistant?.assistant_id}`, {
      headers: withKey({ host: "agents.example.com" }),
    });
    expect(JSON.parse(res.text).url).toBe(`https://agents.example.com/langgraph/a2a/${assistant?.assistant_id}`);
  });
});

describe("the http switches (a gateway over the stack's api-server)", () => {
  const gateways: FastifyInstance[] = [];
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
  });

  /** A gateway with this `http` section in front of the stack's real api-server, on a loopback port. */
  async function gateway(
    httpSection: LanggraphHttpConfig,
    transport = createRpcTransport(stack.rpcUrl, { token: stack.internalSecret }),
  ): Promise<string> {
    const app = await buildApp({ logger, transport, http: httpSection });
    gateways.push(app);
    await app.listen({ host: "127.0.0.1", port: 0 });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  it("lets allow_origin_regex win over allow_origins", async () => {
    const base = await gateway({
      cors: { allow_origins: ["https://listed.example"], allow_origin_regex: "https://[a-z]+\\.example\\.com" },
    });
    const search = (origin: string) => send(base, "/threads/search", { method: "POST", headers: { origin }, body: {} });
    const matching = await search("https://app.example.com");
    expect(matching.status).toBe(200);
    expect(matching.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect((await search("https://listed.example")).status).toBe(403);
    expect((await search("https://app.example.com.evil.example")).status).toBe(403);
  });

  const UUID = "0190b3c2-8c4f-7000-8000-000000000001";
  const UNKNOWN_ROUTE = JSON.stringify({ detail: "Not Found" });
  type Probe = [method: string, route: string, body?: unknown];
  const SWITCHES: Array<[keyof LanggraphHttpConfig, Probe[], Probe]> = [
    [
      "disable_assistants",
      [
        ["POST", "/assistants/search", {}],
        ["GET", "/assistants/agent"],
      ],
      ["POST", "/threads/search", {}],
    ],
    [
      "disable_threads",
      [
        ["POST", "/threads", {}],
        ["POST", "/threads/search", {}],
        ["GET", `/threads/${UUID}/state`],
        ["POST", `/threads/${UUID}/history`, {}],
      ],
      ["POST", "/assistants/search", {}],
    ],
    [
      "disable_runs",
      [
        ["POST", "/runs/wait", { assistant_id: "agent", input: { value: 0 } }],
        ["GET", `/threads/${UUID}/runs`],
        ["POST", "/runs/crons/search", {}],
        ["GET", `/runs/${UUID}/webhooks`],
        ["POST", `/threads/${UUID}/commands`, {}],
      ],
      ["POST", "/threads", {}],
    ],
    [
      "disable_store",
      [
        ["PUT", "/store/items", { namespace: ["a"], key: "k", value: {} }],
        ["POST", "/store/items/search", {}],
      ],
      ["POST", "/threads/search", {}],
    ],
    ["disable_mcp", [["POST", "/mcp", {}]], ["POST", "/threads/search", {}]],
    [
      "disable_a2a",
      [
        ["POST", "/a2a/agent", {}],
        ["GET", "/.well-known/agent-card.json?assistant_id=agent"],
      ],
      ["POST", "/threads/search", {}],
    ],
    [
      "disable_meta",
      [
        ["GET", "/info"],
        ["GET", "/openapi.json"],
        ["GET", "/docs"],
        ["GET", "/metrics"],
      ],
      ["GET", "/ok"],
    ],
  ];

  for (const [name, disabled, kept] of SWITCHES) {
    it(`${name}: its routes answer 404 as unknown ones, the rest is served`, async () => {
      const base = await gateway({ [name]: true });
      for (const [method, route, body] of disabled) {
        // Served without the switch: the probe is a real route (its answer is not the unknown route's)...
        const before = await send(stack.url, route, { method, body });
        expect(before.text, `${method} ${route} without ${name}`).not.toBe(UNKNOWN_ROUTE);
        // ...and gone with it.
        const after = await send(base, route, { method, body });
        expect(after.status, `${method} ${route} with ${name}`).toBe(404);
        expect(after.text).toBe(UNKNOWN_ROUTE);
      }
      const [method, route, body] = kept;
      const res = await send(base, route, { method, body });
      expect(res.status, `${method} ${route} with ${name}: ${res.text}`).toBe(200);
    });
  }

  it("disable_meta: /ok no longer checks dependencies", async () => {
    const unreachable = createRpcTransport("http://127.0.0.1:1");
    const checked = await send(await gateway({}, unreachable), "/ok?check_db=true");
    expect(checked.status).toBe(503);
    const unchecked = await send(await gateway({ disable_meta: true }, unreachable), "/ok?check_db=true");
    expect(unchecked.status).toBe(200);
    expect(JSON.parse(unchecked.text)).toEqual({ ok: true });
  });

  it("disable_webhooks: runs execute, their webhook is never sent", async () => {
    const base = await gateway({ disable_webhooks: true });
    const muted = new Client({ apiUrl: base });
    const thread = await client.threads.create();
    const run = await muted.runs.create(thread.thread_id, "agent", { input: { value: 1 }, webhook: `${receiverUrl}/muted` });
    expect(await muted.runs.join(thread.thread_id, run.run_id)).toEqual({ value: 1 });
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("success");

    // The same run through the default gateway is delivered: the receiver and the worker do work.
    const heard = await client.runs.create(thread.thread_id, "agent", { input: { value: 2 }, webhook: `${receiverUrl}/heard` });
    await client.runs.join(thread.thread_id, heard.run_id);
    await until(async () => receiver.paths.includes("/heard"), "the webhook of the run through the default gateway", {
      timeoutMs: 10_000,
    });

    expect(receiver.paths).not.toContain("/muted");
    const deliveries = await send(stack.url, `/runs/${run.run_id}/webhooks`);
    expect(JSON.parse(deliveries.text)).toEqual([]);
  });
});
