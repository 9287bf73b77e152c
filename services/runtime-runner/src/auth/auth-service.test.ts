import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, freePort } from "@langopen/common";
import {
  type AuthenticateRequest,
  type AuthenticateResponse,
  type AuthorizeResponse,
  AuthService,
  type AuthUser,
} from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "../compose.js";

const fixture = (project: string) => fileURLToPath(new URL(`../test-fixtures/auth/${project}/langgraph.json`, import.meta.url));

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));
const parse = (bytes: Uint8Array) => JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;

/** Every line the runtime logs, to check what it logs of user code's failures. */
const logLines: string[] = [];
const logger = createLogger({
  service: "test",
  level: "debug",
  pretty: false,
  destination: { write: (line: string) => logLines.push(line) },
});

type AuthClient = ReturnType<typeof createClient<typeof AuthService>>;
const started: Runtime[] = [];

async function serve(project: string): Promise<AuthClient> {
  const runtime = await startRuntime(
    { configPath: fixture(project), host: "127.0.0.1", port: 0, apiServerUrl: `http://127.0.0.1:${await freePort()}` },
    logger,
  );
  started.push(runtime);
  return createClient(AuthService, createGrpcTransport({ baseUrl: runtime.rpc.url }));
}

let full: AuthClient;
let typescript: AuthClient;
let none: AuthClient;

beforeAll(async () => {
  [full, typescript, none] = await Promise.all([serve("full"), serve("typescript"), serve("none")]);
});

afterAll(async () => {
  await Promise.all(started.map((runtime) => runtime.stop(500)));
});

beforeEach(() => {
  logLines.length = 0;
});

function request(headers: Record<string, string>, init: Partial<AuthenticateRequest> = {}) {
  return { method: "GET", url: "/threads/search", origin: "http://127.0.0.1:8123", headers, ...init };
}

function userOf(res: AuthenticateResponse): AuthUser {
  if (res.outcome.case !== "user") throw new Error(`expected a user, got ${JSON.stringify(res.outcome)}`);
  return res.outcome.value;
}

function rejectionOf(res: AuthenticateResponse | AuthorizeResponse) {
  if (res.outcome.case !== "rejection") throw new Error(`expected a rejection, got ${res.outcome.case}`);
  const { status, message, headers } = res.outcome.value;
  return { status, message, headers: { ...headers } };
}

function grantOf(res: AuthorizeResponse) {
  if (res.outcome.case !== "grant") throw new Error(`expected a grant, got ${JSON.stringify(res.outcome.value)}`);
  const { filterJson, valueJson } = res.outcome.value;
  return { filter: filterJson.length === 0 ? undefined : parse(filterJson), value: parse(valueJson) };
}

async function expectCode(call: Promise<unknown>, code: Code, message: string | RegExp) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(code);
  expect((err as ConnectError).rawMessage).toMatch(message);
}

/** What the logs hold at warn level or above. */
const warnings = () =>
  logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => (line.level as number) >= 40);

describe("DescribeAuth", () => {
  it("describes the project's auth: authenticate, handler keys, cache with defaults, studio switch", async () => {
    const described = await full.describeAuth({});
    expect(described.configured).toBe(true);
    expect(described.authenticates).toBe(true);
    expect([...described.handlers].sort()).toEqual(["*", "*:create", "crons", "store", "threads", "threads:create"]);
    expect(described.cache).toMatchObject({ cacheKeys: ["authorization", "x-tenant"], ttlSeconds: 60, maxSize: 1000 });
    expect(described.disableStudioAuth).toBe(true);
  });

  it("describes a TypeScript default export without authenticate, and its cache as written", async () => {
    const described = await typescript.describeAuth({});
    expect(described).toMatchObject({ configured: true, authenticates: false, disableStudioAuth: false });
    expect([...described.handlers].sort()).toEqual(["assistants:create", "threads:create"]);
    expect(described.cache).toMatchObject({ cacheKeys: ["authorization"], ttlSeconds: 5, maxSize: 10 });
  });

  it("answers configured: false without auth, and refuses Authenticate and Authorize", async () => {
    const described = await none.describeAuth({});
    expect(described).toMatchObject({ configured: false, authenticates: false, handlers: [], disableStudioAuth: false });
    expect(described.cache).toBeUndefined();
    await expectCode(none.authenticate(request({ authorization: "Bearer alice" })), Code.FailedPrecondition, /no custom auth/);
    await expectCode(
      none.authorize({ user: { identity: "alice" }, resource: "threads", action: "read", valueJson: json({}) }),
      Code.FailedPrecondition,
      /no custom auth/,
    );
  });
});

describe("Authenticate", () => {
  it("turns a string into a user with no permissions", async () => {
    const user = userOf(await full.authenticate(request({ authorization: "Bearer alice" })));
    expect(user.identity).toBe("alice");
    expect(user.permissions).toEqual([]);
    expect(parse(user.userJson)).toEqual({ identity: "alice", display_name: "alice", permissions: [], is_authenticated: true });
  });

  it("keeps an object's permissions and custom fields, with display_name and is_authenticated defaulted", async () => {
    const bob = userOf(await full.authenticate(request({ authorization: "Bearer bob" })));
    expect(bob.identity).toBe("bob");
    expect(bob.permissions).toEqual(["threads:write", "assistants:read"]);
    expect(parse(bob.userJson)).toEqual({
      identity: "bob",
      display_name: "bob",
      permissions: ["threads:write", "assistants:read"],
      is_authenticated: true,
      org: "acme",
    });
    const carol = userOf(await full.authenticate(request({ authorization: "Bearer carol" })));
    expect(parse(carol.userJson)).toEqual({ identity: "carol", display_name: "Carol", permissions: [], is_authenticated: false });
  });

  it("gives user code a WHATWG Request with the method, the URL resolved against the origin, and the headers", async () => {
    const user = userOf(
      await full.authenticate(
        request(
          { authorization: "Bearer echo", "x-tenant": "t-1" },
          { method: "POST", url: "/threads/search?limit=2", origin: "https://agents.example.com" },
        ),
      ),
    );
    expect(parse(user.userJson)).toMatchObject({
      identity: "POST /threads/search?limit=2",
      origin: "https://agents.example.com",
      tenant: "t-1",
    });
  });

  it("answers a thrown HTTPException with its status, message and headers", async () => {
    expect(rejectionOf(await full.authenticate(request({})))).toEqual({
      status: 401,
      message: "Missing token",
      headers: { "www-authenticate": 'Bearer realm="langopen"' },
    });
    expect(rejectionOf(await full.authenticate(request({ authorization: "Bearer wrong" })))).toEqual({
      status: 401,
      message: "Invalid token",
      headers: {},
    });
    expect(rejectionOf(await full.authenticate(request({ authorization: "Bearer teapot" })))).toMatchObject({
      status: 418,
      message: "I'm a Teapot",
    });
    // An empty message becomes the status's reason phrase.
    expect(rejectionOf(await full.authenticate(request({ authorization: "Bearer blank" })))).toMatchObject({
      status: 401,
      message: "Unauthorized",
    });
    expect(warnings()).toEqual([]);
  });

  it("answers any other throw with a bare 500 and logs the cause in the runtime only", async () => {
    const res = await full.authenticate(request({ authorization: "Bearer crash" }));
    expect(rejectionOf(res)).toEqual({ status: 500, message: "Internal Server Error", headers: {} });
    expect(JSON.stringify(res)).not.toContain("hunter2");
    const [warning] = warnings();
    expect(warning?.msg).toBe("Answered 500: authenticate failed");
    expect(JSON.stringify(warning?.err)).toContain("the key server password is hunter2");
  });

  it.each([
    ["number", /returned a number/],
    ["nameless", /with a string "identity"/],
    ["bad-permissions", /"permissions" that is not a list of strings/],
  ])("answers 500 when authenticate returns an unusable user (%s)", async (token, logged) => {
    const res = await full.authenticate(request({ authorization: `Bearer ${token}` }));
    expect(rejectionOf(res)).toEqual({ status: 500, message: "Internal Server Error", headers: {} });
    expect((warnings()[0]?.err as { message?: string } | undefined)?.message).toMatch(logged);
  });

  it("answers neither user nor rejection when the project registers no authenticate", async () => {
    const res = await typescript.authenticate(request({ authorization: "Bearer alice" }));
    expect(res.outcome.case).toBeUndefined();
  });

  it("refuses requests that cannot be made into a Request", async () => {
    await expectCode(full.authenticate(request({}, { method: "" })), Code.InvalidArgument, "method is required");
    await expectCode(full.authenticate(request({}, { method: "CONNECT" })), Code.InvalidArgument, /method "CONNECT"/);
    await expectCode(full.authenticate(request({}, { origin: "" })), Code.InvalidArgument, /not a valid URL/);
    await expectCode(
      full.authenticate(request({ "bad header": "x" })),
      Code.InvalidArgument,
      /"bad header" is not a valid header/,
    );
  });
});

describe("Authorize", () => {
  const alice = { identity: "alice", permissions: [] as string[], userJson: json({ identity: "alice", permissions: [] }) };
  const bob = {
    identity: "bob",
    permissions: ["threads:write"],
    userJson: json({ identity: "bob", display_name: "bob", permissions: ["threads:write"], is_authenticated: true, org: "acme" }),
  };
  const authorize = (client: AuthClient, resource: string, action: string, value: unknown, user: typeof alice = alice) =>
    client.authorize({ user, resource, action, valueJson: json(value) });

  it("runs only the first registered of resource:action, resource, *:action, *", async () => {
    // Each handler but those of crons and store stamps its key into `ran`; theirs stamp nothing,
    // so an empty `ran` there shows that neither `*:action` nor `*` ran after them.
    const cases: Array<[string, string, Record<string, unknown>, string[] | undefined]> = [
      ["threads", "create", { metadata: {} }, ["threads:create"]],
      ["threads", "read", {}, ["threads"]],
      ["threads", "create_run", {}, ["threads"]],
      ["assistants", "create", {}, ["*:create"]],
      ["assistants", "read", {}, ["*"]],
      ["store", "delete", { namespace: ["a"], key: "k" }, undefined],
      ["crons", "create", { answer: "undefined" }, undefined],
    ];
    for (const [resource, action, value, ran] of cases) {
      const { value: left } = grantOf(await authorize(full, resource, action, value));
      expect([resource, action, left.ran]).toEqual([resource, action, ran]);
    }
  });

  it("returns the value as the handler left it, with its filter", async () => {
    const res = await authorize(full, "threads", "create", { thread_id: "t-1", metadata: { topic: "tea" } }, bob);
    expect(grantOf(res)).toEqual({
      filter: { owner: "bob" },
      value: { thread_id: "t-1", metadata: { topic: "tea", owner: "bob" }, ran: ["threads:create"] },
    });
  });

  it("gives the handler the event, resource, action, the whole user and the permissions", async () => {
    const res = await authorize(full, "crons", "search", { answer: "echo" }, bob);
    expect(grantOf(res).filter).toEqual({
      event: "crons:search",
      resource: "crons",
      action: "search",
      identity: "bob",
      org: "acme",
      permissions: ["threads:write"],
    });
  });

  it("maps return values: undefined, null and true grant without a filter; an object is the filter", async () => {
    for (const answer of ["undefined", "null", "true"]) {
      expect([answer, grantOf(await authorize(full, "crons", "read", { answer })).filter]).toEqual([answer, undefined]);
    }
    expect(grantOf(await authorize(full, "crons", "read", { answer: "filter" })).filter).toEqual({
      owner: "alice",
      tags: { $contains: "shared" },
    });
  });

  it("answers false with 403 Forbidden", async () => {
    expect(rejectionOf(await authorize(full, "crons", "delete", { answer: "false" }))).toEqual({
      status: 403,
      message: "Forbidden",
      headers: {},
    });
  });

  it.each(["string", "number", "array", "date"])("answers 500 for a handler that returns a %s", async (answer) => {
    expect(rejectionOf(await authorize(full, "crons", "read", { answer }))).toEqual({
      status: 500,
      message: "Internal Server Error",
      headers: {},
    });
    expect(warnings()[0]).toMatchObject({ auth_event: "crons:read", auth_handler: "crons" });
  });

  it("answers a thrown HTTPException with its status, message and headers, also from another copy of the SDK", async () => {
    expect(rejectionOf(await authorize(full, "store", "get", { namespace: ["a"], key: "http" }))).toEqual({
      status: 404,
      message: "No such namespace",
      headers: { "x-reason": "scoped" },
    });
    expect(rejectionOf(await authorize(full, "store", "get", { namespace: ["a"], key: "forbidden" }))).toMatchObject({
      status: 403,
      message: "Forbidden",
    });
    expect(rejectionOf(await authorize(full, "store", "get", { namespace: ["a"], key: "foreign" }))).toMatchObject({
      status: 409,
      message: "Taken",
    });
    expect(warnings()).toEqual([]);
  });

  it("answers other throws, and values that are not JSON, with a bare 500 and logs the cause", async () => {
    for (const key of ["crash", "status-only", "bigint"]) {
      const res = await authorize(full, "store", "put", { namespace: ["a"], key, value: {} });
      expect([key, rejectionOf(res)]).toEqual([key, { status: 500, message: "Internal Server Error", headers: {} }]);
      expect(JSON.stringify(res)).not.toMatch(/secret vault|looks like|BigInt/);
    }
    const logged = warnings().map((line) => JSON.stringify(line.err));
    expect(logged).toHaveLength(3);
    expect(logged[0]).toContain("cannot read the secret vault");
    expect(logged[1]).toContain("looks like an HTTP error");
    expect(logged[2]).toMatch(/BigInt/);
  });

  it("runs TypeScript handlers registered for several events, with the user's permissions", async () => {
    const writer = { identity: "dora", permissions: [] as string[], userJson: new Uint8Array() };
    expect(grantOf(await authorize(typescript, "assistants", "create", { graph_id: "tiny" }, writer))).toEqual({
      filter: undefined,
      value: { graph_id: "tiny", metadata: { owner: "dora" } },
    });
    const reader = { identity: "rita", permissions: ["read-only"], userJson: new Uint8Array() };
    expect(rejectionOf(await authorize(typescript, "threads", "create", {}, reader))).toEqual({
      status: 403,
      message: "Read-only users cannot create",
      headers: {},
    });
  });

  it("grants an event without a handler, with no filter and the value unchanged", async () => {
    const value = { thread_id: "t-1", metadata: { a: 1 } };
    expect(grantOf(await authorize(typescript, "threads", "read", value))).toEqual({ filter: undefined, value });
  });

  it("refuses unknown resources and actions, values that are not JSON objects, and a missing user", async () => {
    await expectCode(authorize(full, "runs", "read", {}), Code.InvalidArgument, /Unknown auth resource "runs"/);
    await expectCode(authorize(full, "threads", "put", {}), Code.InvalidArgument, /Unknown action "put" of threads/);
    await expectCode(authorize(full, "*", "create", {}), Code.InvalidArgument, /Unknown auth resource "\*"/);
    for (const valueJson of [new Uint8Array(), encoder.encode("[1]"), encoder.encode("null"), encoder.encode("{oops")]) {
      await expectCode(
        full.authorize({ user: alice, resource: "threads", action: "read", valueJson }),
        Code.InvalidArgument,
        "value_json must be a JSON object",
      );
    }
    await expectCode(
      full.authorize({ resource: "threads", action: "read", valueJson: json({}) }),
      Code.InvalidArgument,
      "user is required",
    );
    await expectCode(
      authorize(full, "threads", "read", {}, { ...alice, userJson: encoder.encode('"alice"') }),
      Code.InvalidArgument,
      "user.user_json must be a JSON object",
    );
  });
});
