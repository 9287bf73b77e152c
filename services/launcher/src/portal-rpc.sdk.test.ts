// The portal's RPCs as a browser makes them (Connect over HTTP/1.1 at /portal/rpc, same origin),
// against a stack with custom auth (test-fixtures/auth-project): every call is authenticated,
// authorized by the project's handlers and filtered as the REST routes are, and bad input is
// refused before anything is written.
import { fileURLToPath } from "node:url";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Client } from "@langchain/langgraph-sdk";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const AUTH_PROJECT = fileURLToPath(new URL("./test-fixtures/auth-project/langgraph.json", import.meta.url));

let stack: TestStack;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

beforeAll(async () => {
  stack = await startTestStack(AUTH_PROJECT);
});
afterAll(() => stack?.stop());

/** A browser's transport: Connect protocol, HTTP/1.1, with the user's token (or none). */
function transportAs(token?: string, binary = true) {
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({
    baseUrl: `${stack.url}/portal/rpc`,
    httpVersion: "1.1",
    useBinaryFormat: binary,
    interceptors: [bearer],
  });
}

/** A field of length-delimited bytes, as protobuf encodes it. */
const field = (no: number, bytes: Uint8Array): Uint8Array =>
  new BinaryWriter().tag(no, WireType.LengthDelimited).bytes(bytes).finish();
/** A Struct with one field "d" (its map entry: key 1, value 2). */
const structOfD = (value: Uint8Array): Uint8Array => field(1, Buffer.concat([field(1, Buffer.from("d")), field(2, value)]));

const threadsAs = (token?: string) => createClient(ThreadService, transportAs(token));
const runsAs = (token?: string) => createClient(RunService, transportAs(token));
const codeOf = async (call: Promise<unknown>): Promise<Code | "ok"> =>
  call.then(
    () => "ok" as const,
    (err) => ConnectError.from(err).code,
  );

describe("portal RPCs", () => {
  it("refuses a call without credentials or with a bad token as Unauthenticated, in Connect's shape", async () => {
    expect(await codeOf(threadsAs().searchThreads({ limit: 10 }))).toBe(Code.Unauthenticated);
    expect(await codeOf(threadsAs("token-nope").searchThreads({ limit: 10 }))).toBe(Code.Unauthenticated);
    const res = await fetch(`${stack.url}/portal/rpc/langopen.data.v1.ThreadService/SearchThreads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: "unauthenticated", message: "Invalid token" });
  });

  it("stamps and filters as the REST API does: the owner is the caller, another user sees nothing", async () => {
    const alice = threadsAs("token-alice");
    const bob = threadsAs("token-bob");
    const created = await alice.createThread({ metadata: { owner: "mallory", topic: "portal" } });
    const id = created.thread?.threadId ?? "";
    expect(created.thread?.metadata).toMatchObject({ owner: "alice", topic: "portal" });
    expect((await alice.getThread({ threadId: id })).thread?.threadId).toBe(id);
    for (const [i, call] of [
      () => bob.getThread({ threadId: id }),
      () => bob.getThreadState({ threadId: id }),
      () => bob.getThreadHistory({ threadId: id, limit: 10 }),
      () => bob.updateThread({ threadId: id, metadata: { topic: "stolen" } }),
      () => bob.deleteThread({ threadId: id }),
    ].entries()) {
      expect(await codeOf(call()), `call ${i}`).toBe(Code.NotFound);
    }
    const seen = await bob.searchThreads({ limit: 100 });
    expect(seen.threads.map((t) => t.threadId)).not.toContain(id);
    // The REST API agrees on what was written.
    const rest = new Client({ apiUrl: stack.url, defaultHeaders: { Authorization: "Bearer token-alice" } });
    expect((await rest.threads.get(id)).metadata).toMatchObject({ owner: "alice", topic: "portal" });
  });

  it("answers a refusal of the project's handler as PermissionDenied with its reason", async () => {
    const assistants = createClient(
      (await import("@langopen/gen/langopen/data/v1/assistant_service_pb")).AssistantService,
      transportAs("token-reader"),
    );
    const err = await assistants.createAssistant({ graphId: "whoami" }).catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect((err as ConnectError).rawMessage).toBe("Needs assistants:write");
  });

  it("streams a run created on the caller's thread, and hides it from another user", async () => {
    const thread = (await threadsAs("token-alice").createThread({})).thread?.threadId ?? "";
    const events: string[] = [];
    let runId = "";
    for await (const message of runsAs("token-alice").createAndStreamRun({
      run: {
        threadId: thread,
        spec: { assistantId: "whoami", inputJson: encoder.encode("{}"), streamModes: ["values"] },
      },
    })) {
      if (message.kind.case === "run") runId = message.kind.value.runId;
      if (message.kind.case === "event") events.push(message.kind.value.event);
    }
    expect(runId).not.toBe("");
    expect(events).toContain("values");
    const state = await threadsAs("token-alice").getThreadState({ threadId: thread });
    const values = JSON.parse(decoder.decode(state.stateJson)).values;
    expect(values.seen.user_id).toBe("alice");
    expect(await codeOf(runsAs("token-bob").getRun({ threadId: thread, runId }))).toBe(Code.NotFound);
    const stolen = (async () => {
      for await (const _ of runsAs("token-bob").streamRun({ threadId: thread, runId })) {
      }
    })();
    expect(await codeOf(stolen)).toBe(Code.NotFound);
  });

  it("scopes the store by the handler's filter and its edits", async () => {
    const store = createClient(StoreService, transportAs("token-alice"));
    await store.putItem({ namespace: ["alice", "notes"], key: "k", valueJson: encoder.encode('{"text":"hi"}') });
    const found = await store.searchItems({ namespacePrefix: ["alice"], limit: 10 });
    expect(found.items.map((item) => item.key)).toContain("k");
    const bobs = await createClient(StoreService, transportAs("token-bob")).searchItems({
      namespacePrefix: ["alice"],
      limit: 10,
    });
    expect(bobs.items).toEqual([]);
    expect(await codeOf(store.putItem({ namespace: ["alice"], key: "bad", valueJson: encoder.encode("{") }))).toBe(
      Code.InvalidArgument,
    );
  });

  it("serves only the guarded methods: internal ones are not reachable", async () => {
    const alice = transportAs("token-alice");
    expect(await codeOf(createClient(ThreadService, alice).pruneThreads({ threadIds: [] }))).toBe(Code.Unimplemented);
    expect(await codeOf(createClient(RunService, alice).createRuns({ runs: [] }))).toBe(Code.Unimplemented);
    expect(await codeOf(createClient(CheckpointService, alice).listCheckpoints({ threadId: "x" }))).toBe(Code.Unimplemented);
  });

  it("refuses JSON over the limits before anything is written, and survives a nesting bomb", async () => {
    const alice = threadsAs("token-alice");
    const before = (await alice.countThreads({})).count;
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 210; i++) deep = { d: deep };
    const err = await alice.createThread({ metadata: deep as never }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/nested too deeply/);
    const runs = runsAs("token-alice");
    const wide = `[${"1,".repeat(250_000)}1]`;
    expect(await codeOf(runs.createRun({ spec: { assistantId: "whoami", inputJson: encoder.encode(`{"x":${wide}}`) } }))).toBe(
      Code.InvalidArgument,
    );
    expect((await alice.countThreads({})).count).toBe(before);

    // 5 000 levels of Struct in binary, well under the byte limit: refused by the decoder, and the server answers on.
    // Value{struct_value (5): Struct{d: inner}}, 5 000 times over Value{bool_value: true}.
    let value: Uint8Array = new BinaryWriter().tag(4, WireType.Varint).bool(true).finish();
    for (let i = 0; i < 5_000; i++) value = field(5, structOfD(value));
    const body = field(2, structOfD(value)); // CreateThreadRequest{metadata (2): {d: value}}
    const res = await fetch(`${stack.url}/portal/rpc/langopen.data.v1.ThreadService/CreateThread`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: "Bearer token-alice" },
      body,
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(((await res.json()) as { message: string }).message).toMatch(/maximum recursion depth/);
    expect((await fetch(`${stack.url}/ok`)).status).toBe(200);
    expect((await alice.countThreads({})).count).toBe(before);
  });

  it("speaks Connect's JSON too (a client without the binary codec)", async () => {
    const json = createClient(ThreadService, transportAs("token-alice", false));
    const created = await json.createThread({ metadata: { codec: "json" } });
    expect(created.thread?.metadata).toMatchObject({ owner: "alice", codec: "json" });
  });
});
