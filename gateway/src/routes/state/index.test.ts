import type { ConnectRouter } from "@connectrpc/connect";
import { failedPrecondition, jsonBytes } from "@langopen/common";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";

const start = standInGateway("state-route-test");

/** State JSON as the runtime writes it, spacing included: it must arrive unchanged. */
const STATE = '{"values": {"topic": "x"}, "next": [], "tasks": [], "checkpoint": {"checkpoint_id": "cp1"}}';
const stateBytes = (s = STATE) => new TextEncoder().encode(s);

describe("state", () => {
  it("passes the latest state through untouched", async () => {
    const { app, calls } = await start((router) =>
      router.service(ThreadService, { getThreadState: () => ({ stateJson: stateBytes() }) }),
    );
    const res = await app.inject({ method: "GET", url: `/threads/${THREAD}/state?subgraphs=true&select=values` });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.body).toBe(STATE);
    expect(calls).toMatchObject([{ method: "GetThreadState", input: { threadId: THREAD, subgraphs: true } }]);
    expect(calls[0]?.input).not.toHaveProperty("checkpoint");
  });

  it("reads the state at a checkpoint, by id or by checkpoint object", async () => {
    const { app, calls } = await start((router) =>
      router.service(ThreadService, { getThreadState: () => ({ stateJson: stateBytes() }) }),
    );
    const byId = await app.inject({ method: "GET", url: `/threads/${THREAD}/state/cp1` });
    expect(byId.body).toBe(STATE);
    const byObject = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/state/checkpoint`,
      payload: {
        checkpoint: { checkpoint_id: "cp2", checkpoint_ns: "child:1", checkpoint_map: null },
        subgraphs: true,
        select: ["values"],
      },
    });
    expect(byObject.statusCode).toBe(200);
    expect(calls).toMatchObject([
      { input: { threadId: THREAD, checkpoint: { checkpointId: "cp1", checkpointNs: "" }, subgraphs: false } },
      { input: { threadId: THREAD, checkpoint: { checkpointId: "cp2", checkpointNs: "child:1" }, subgraphs: true } },
    ]);
  });

  it("requires the checkpoint of POST /state/checkpoint", async () => {
    const { app, calls } = await start();
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/state/checkpoint`, payload: { subgraphs: true } });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ detail: "Invalid body: 'checkpoint' is required" });
    expect(calls).toEqual([]);
  });

  it("updates the state and answers the new checkpoint", async () => {
    const { app, calls } = await start((router) =>
      router.service(ThreadService, {
        updateThreadState: () => ({ checkpoint: { threadId: THREAD, checkpointNs: "", checkpointId: "cp9" } }),
      }),
    );
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/state`,
      payload: { values: { topic: "y" }, as_node: "third", checkpoint_id: "cp1" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      checkpoint: { thread_id: THREAD, checkpoint_ns: "", checkpoint_id: "cp9", checkpoint_map: null },
    });
    const input = calls[0]?.input as { valuesJson: Uint8Array; asNode: string; checkpoint: { checkpointId: string } };
    expect(new TextDecoder().decode(input.valuesJson)).toBe('{"topic":"y"}');
    expect(input.asNode).toBe("third");
    expect(input.checkpoint.checkpointId).toBe("cp1");
  });

  it("answers 409 when the thread is busy", async () => {
    const { app } = await start((router) =>
      router.service(ThreadService, {
        updateThreadState: () => {
          throw failedPrecondition("THREAD_BUSY", `Thread ${THREAD} is busy`);
        },
      }),
    );
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/state`, payload: { values: {} } });
    expect(res.statusCode).toBe(409);
  });

  it("rejects values that are not an object, a list or null", async () => {
    const { app, calls } = await start();
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/state`, payload: { values: 3 } });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ detail: "Invalid body: 'values' must be an object, a list or null" });
    expect(calls).toEqual([]);
  });

  it("patches the latest checkpoint's metadata with 204", async () => {
    const { app, calls } = await start((router) => router.service(ThreadService, { patchThreadState: () => ({}) }));
    const res = await app.inject({ method: "PATCH", url: `/threads/${THREAD}/state`, payload: { metadata: { tagged: true } } });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe("");
    expect(calls).toMatchObject([{ method: "PatchThreadState", input: { threadId: THREAD, metadata: { tagged: true } } }]);
    const missing = await app.inject({ method: "PATCH", url: `/threads/${THREAD}/state`, payload: {} });
    expect(missing.statusCode).toBe(422);
  });
});

describe("history", () => {
  const history = (router: ConnectRouter) =>
    router.service(ThreadService, {
      getThreadHistory: () => ({ statesJson: [stateBytes(), jsonBytes({ values: {}, next: ["a"] })] }),
    });

  it("joins the states into a JSON array, newest first as sent", async () => {
    const { app, calls } = await start(history);
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/history`,
      payload: { limit: 2, before: { configurable: { checkpoint_id: "cp5" } } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(`[${STATE},{"values":{},"next":["a"]}]`);
    expect(calls).toMatchObject([
      { method: "GetThreadHistory", input: { threadId: THREAD, limit: 2, before: { checkpointId: "cp5" } } },
    ]);
  });

  it("reads the GET form and an empty POST body", async () => {
    const { app, calls } = await start(history);
    expect((await app.inject({ method: "GET", url: `/threads/${THREAD}/history?limit=3&before=cp4` })).statusCode).toBe(200);
    expect((await app.inject({ method: "POST", url: `/threads/${THREAD}/history` })).statusCode).toBe(200);
    expect(calls).toMatchObject([{ input: { limit: 3, before: { checkpointId: "cp4" } } }, { input: { limit: 10 } }]);
  });

  it("answers an empty history with []", async () => {
    const { app } = await start((router) => router.service(ThreadService, { getThreadHistory: () => ({ statesJson: [] }) }));
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/history`, payload: { limit: 10 } });
    expect(res.body).toBe("[]");
  });

  it.each([
    [{ limit: 0 }, "Invalid body: 'limit' must be an integer from 1 to 1000"],
    [{ before: 5 }, "Invalid body: 'before' must be a checkpoint id, a checkpoint object or a config with configurable"],
    [{ metadata: "x" }, "Invalid body: 'metadata' must be an object or null"],
  ])("rejects %j", async (payload, detail) => {
    const { app, calls } = await start();
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/history`, payload });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ detail });
    expect(calls).toEqual([]);
  });
});
