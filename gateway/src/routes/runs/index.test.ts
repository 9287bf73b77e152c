import type { ConnectRouter } from "@connectrpc/connect";
import { failedPrecondition, jsonBytes, notFound } from "@langopen/common";
import { MultitaskStrategy, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-000000000002";
const TEMP_THREAD = "0190b3c2-8c4f-7000-8000-000000000003";
const ts = { seconds: 1719335433n, nanos: 0 };

const start = standInGateway("runs-route-test");

const run = (threadId = THREAD, status = RunStatus.PENDING) => ({
  runId: RUN,
  threadId,
  assistantId: "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
  createTime: ts,
  updateTime: ts,
  status,
  kwargsJson: jsonBytes({ input: null }),
  multitaskStrategy: MultitaskStrategy.ENQUEUE,
});

describe("bad input", () => {
  it.each([
    ["POST", `/threads/${THREAD}/runs`, undefined, "Request body is required: send a JSON object"],
    ["POST", `/threads/${THREAD}/runs`, {}, "Invalid body: 'assistant_id' is required"],
    [
      "POST",
      `/threads/${THREAD}/runs`,
      { assistant_id: "" },
      "Invalid body: 'assistant_id' must be an assistant id or a graph id",
    ],
    ["POST", "/threads/nope/runs", { assistant_id: "a" }, "Invalid path parameter: 'thread_id' must be a UUID"],
    [
      "POST",
      `/threads/${THREAD}/runs/stream`,
      { assistant_id: "a", multitask_strategy: "sometimes" },
      `Invalid body: 'multitask_strategy' must be one of "reject", "interrupt", "rollback", "enqueue"`,
    ],
    [
      "POST",
      `/threads/${THREAD}/runs/wait`,
      { assistant_id: "a", on_disconnect: "stay" },
      `Invalid body: 'on_disconnect' must be one of "cancel", "continue"`,
    ],
    [
      "POST",
      "/runs",
      { assistant_id: "a", on_completion: "complete" },
      `Invalid body: 'on_completion' must be one of "delete", "keep"`,
    ],
    ["POST", "/runs", { assistant_id: "a", after_seconds: -1 }, "Invalid body: 'after_seconds' must be a number of seconds >= 0"],
    [
      "POST",
      "/runs",
      { assistant_id: "a", after_seconds: "5" },
      "Invalid body: 'after_seconds' must be a number of seconds >= 0",
    ],
    [
      "POST",
      "/runs/stream",
      { assistant_id: "a", interrupt_before: "all" },
      `Invalid body: 'interrupt_before' must be "*" or a list of node names`,
    ],
    ["POST", "/runs/wait", { assistant_id: "a", stream_resumable: "yes" }, "Invalid body: 'stream_resumable' must be a boolean"],
    [
      "POST",
      "/runs",
      { assistant_id: "a", durability: "forever" },
      `Invalid body: 'durability' must be one of "sync", "async", "exit"`,
    ],
    [
      "POST",
      "/runs",
      { assistant_id: "a", config: { recursion_limit: "x" } },
      "Invalid body: 'config.recursion_limit' must be an integer >= 1",
    ],
    ["POST", "/runs", { assistant_id: "a", webhook: "" }, "Invalid body: 'webhook' must be a URL or a path"],
    ["POST", "/runs", { assistant_id: "a", checkpoint: "cp" }, "Invalid body: 'checkpoint' must be a checkpoint object or null"],
    [
      "POST",
      "/runs",
      { assistant_id: "a", if_not_exists: "maybe" },
      `Invalid body: 'if_not_exists' must be one of "create", "reject"`,
    ],
    [
      "POST",
      "/runs",
      { assistant_id: "a", command: { goto: 3 } },
      "Invalid body: 'command.goto' must be a node name, a Send {node, input}, a list of them, or null",
    ],
    [
      "POST",
      "/runs",
      { assistant_id: "a", stream_mode: ["values", "x"] },
      `Invalid body: 'stream_mode[1]' must be one of ${'"values", "messages", "messages-tuple", "tasks", "checkpoints", "updates", "events", "debug", "custom", "tools", "lifecycle"'}`,
    ],
    ["POST", "/runs", { assistant_id: "a", config: [] }, "Invalid body: 'config' must be a JSON object"],
    ["POST", "/runs/batch", [], "Invalid body: give at least one run"],
    ["POST", "/runs/batch", { assistant_id: "a" }, "Request body must be a JSON array of runs"],
    [
      "POST",
      "/runs/batch",
      [{ assistantId: "a", multitaskStrategy: "x" }],
      `Invalid body: '[0].multitask_strategy' must be one of "reject", "interrupt", "rollback", "enqueue"`,
    ],
    ["GET", `/threads/${THREAD}/runs/nope`, undefined, "Invalid path parameter: 'run_id' must be a UUID"],
    ["GET", `/threads/${THREAD}/runs?limit=0`, undefined, "Invalid query parameter: 'limit' must be an integer from 1 to 1000"],
    [
      "GET",
      `/threads/${THREAD}/runs?status=done`,
      undefined,
      `Invalid query parameter: 'status' must be one of "pending", "running", "error", "success", "timeout", "interrupted"`,
    ],
    [
      "POST",
      `/threads/${THREAD}/runs/${RUN}/cancel?action=stop`,
      undefined,
      `Invalid query parameter: 'action' must be one of "interrupt", "rollback"`,
    ],
    [
      "POST",
      `/threads/${THREAD}/runs/${RUN}/cancel?wait=maybe`,
      undefined,
      "Invalid query parameter: 'wait' must be a boolean (true, false, 1, 0, yes or no)",
    ],
    ["POST", "/runs/cancel", {}, "Invalid body: give either 'status' or 'thread_id' and 'run_ids'"],
    ["POST", "/runs/cancel", { status: "success" }, `Invalid body: 'status' must be one of "pending", "running", "all"`],
    ["POST", "/runs/cancel", { thread_id: THREAD, run_ids: ["x"] }, "Invalid body: 'run_ids[0]' must be a UUID"],
    ["GET", "/runs/nope/stream", undefined, "Invalid path parameter: 'run_id' must be a UUID"],
  ])("%s %s -> 422 without calling the api-server", async (method, url, payload, detail) => {
    const { app, calls } = await start();
    const res = await app.inject({
      method: method as "GET",
      url,
      ...(payload === undefined ? {} : { payload: payload as object, headers: { "content-type": "application/json" } }),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ detail });
    expect(calls).toEqual([]);
  });

  it("accepts the keys the SDKs send beyond the spec", async () => {
    const { app, calls } = await start((router) => router.service(RunService, { createRun: () => ({ run: run() }) }));
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/runs`,
      payload: {
        assistant_id: "agent",
        checkpoint_during: true,
        strict_resume: false,
        langsmith_tracer: { project_name: "p" },
        on_completion: "delete",
        stream_mode: ["values", "tools"],
        checkpoint: { thread_id: THREAD, checkpoint_ns: "", checkpoint_id: "cp", checkpoint_map: null },
        webhook: "/hooks/done",
        unknown_key: 1,
      },
    });
    expect(res.statusCode).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe("runs on a thread", () => {
  it("creates a run and points Content-Location at it", async () => {
    const { app, calls } = await start((router) => router.service(RunService, { createRun: () => ({ run: run() }) }));
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/runs`,
      payload: { assistant_id: "agent", input: { x: 1 }, multitask_strategy: "reject", if_not_exists: "create" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-location"]).toBe(`/threads/${THREAD}/runs/${RUN}`);
    expect(res.headers.location).toBeUndefined();
    expect(res.json()).toEqual({
      run_id: RUN,
      thread_id: THREAD,
      assistant_id: "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
      created_at: "2024-06-25T17:10:33.000000+00:00",
      updated_at: "2024-06-25T17:10:33.000000+00:00",
      status: "pending",
      metadata: {},
      kwargs: { input: null },
      multitask_strategy: "enqueue",
    });
    expect(calls).toMatchObject([
      {
        method: "CreateRun",
        input: { threadId: THREAD, multitaskStrategy: MultitaskStrategy.REJECT, spec: { assistantId: "agent" } },
      },
    ]);
  });

  it("answers a busy thread with 409 before any stream byte", async () => {
    const { app, calls } = await start((router) =>
      router.service(RunService, {
        // biome-ignore lint/correctness/useYield: refuses before its first message.
        async *createAndStreamRun() {
          throw failedPrecondition("THREAD_BUSY", `Thread ${THREAD} is busy`);
        },
      }),
    );
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/runs/stream`, payload: { assistant_id: "agent" } });
    expect(res.statusCode).toBe(409);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ detail: `Thread ${THREAD} is busy` });
    expect(calls.map((c) => c.method)).toEqual(["CreateAndStreamRun"]);
  });

  it("streams a created run from its first event", async () => {
    let streamed: unknown;
    const { app } = await start((router) =>
      router.service(RunService, {
        async *createAndStreamRun(req) {
          streamed = { threadId: req.run?.threadId, assistant: req.run?.spec?.assistantId, cancel: req.cancelOnDisconnect };
          yield { kind: { case: "run", value: run() } };
          yield { kind: { case: "event", value: { id: "1", event: "end", dataJson: jsonBytes(null) } } };
        },
      }),
    );
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/runs/stream`,
      payload: { assistant_id: "agent", on_disconnect: "cancel" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(res.headers["content-location"]).toBe(`/threads/${THREAD}/runs/${RUN}`);
    expect(res.headers.location).toBe(`/threads/${THREAD}/runs/${RUN}/stream`);
    expect(res.body).toBe("event: end\ndata: null\nid: 1\n\n");
    expect(streamed).toEqual({ threadId: THREAD, assistant: "agent", cancel: true });
  });

  it("waits for a created run and answers its result as is", async () => {
    let joined: unknown;
    const { app } = await start((router) =>
      router.service(RunService, {
        createAndJoinRun: (req) => {
          joined = { threadId: req.run?.threadId, assistant: req.run?.spec?.assistantId, cancel: req.cancelOnDisconnect };
          return { run: run(), resultJson: jsonBytes({ __error__: { error: "ValueError", message: "bad" } }) };
        },
      }),
    );
    const res = await app.inject({ method: "POST", url: `/threads/${THREAD}/runs/wait`, payload: { assistant_id: "agent" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-location"]).toBe(`/threads/${THREAD}/runs/${RUN}`);
    expect(res.headers.location).toBe(`/threads/${THREAD}/runs/${RUN}/join`);
    expect(res.body).toBe('{"__error__":{"error":"ValueError","message":"bad"}}');
    expect(joined).toEqual({ threadId: THREAD, assistant: "agent", cancel: false });
  });

  it("lists runs with paging, a status filter and select", async () => {
    const { app, calls } = await start((router) => router.service(RunService, { listRuns: () => ({ runs: [run()] }) }));
    const res = await app.inject({
      method: "GET",
      url: `/threads/${THREAD}/runs?limit=5&offset=2&status=running&select=run_id&select=status`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([{ run_id: RUN, status: "pending" }]);
    expect(calls).toMatchObject([
      { method: "ListRuns", input: { threadId: THREAD, limit: 5, offset: 2, status: RunStatus.RUNNING } },
    ]);
    const bad = await app.inject({ method: "GET", url: `/threads/${THREAD}/runs?select=nope` });
    expect(bad.statusCode).toBe(422);
  });

  it("gets, deletes and joins a run", async () => {
    const { app, calls } = await start((router) =>
      router.service(RunService, {
        getRun: () => ({ run: run(THREAD, RunStatus.SUCCESS) }),
        deleteRun: () => ({}),
        joinRun: () => ({ resultJson: jsonBytes({ messages: [] }) }),
      }),
    );
    const got = await app.inject({ method: "GET", url: `/threads/${THREAD}/runs/${RUN}` });
    expect(got.json()).toMatchObject({ run_id: RUN, status: "success" });
    const deleted = await app.inject({ method: "DELETE", url: `/threads/${THREAD}/runs/${RUN}` });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe("");
    const joined = await app.inject({ method: "GET", url: `/threads/${THREAD}/runs/${RUN}/join?cancel_on_disconnect=1` });
    expect(joined.statusCode).toBe(200);
    expect(joined.json()).toEqual({ messages: [] });
    expect(calls).toMatchObject([
      { method: "GetRun", input: { threadId: THREAD, runId: RUN } },
      { method: "DeleteRun", input: { threadId: THREAD, runId: RUN } },
      { method: "JoinRun", input: { threadId: THREAD, runId: RUN, cancelOnDisconnect: true } },
    ]);
  });

  it("answers a missing run with 404", async () => {
    const { app } = await start((router) =>
      router.service(RunService, {
        getRun: (req) => {
          throw notFound("Run", req.runId);
        },
      }),
    );
    const res = await app.inject({ method: "GET", url: `/threads/${THREAD}/runs/${RUN}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ detail: `Run ${RUN} not found` });
  });

  it("joins a run's stream from Last-Event-ID with a subset of modes", async () => {
    let streamed: unknown;
    const { app } = await start((router) =>
      router.service(RunService, {
        async *streamRun(req) {
          streamed = {
            threadId: req.threadId,
            lastEventId: req.lastEventId,
            modes: req.streamModes,
            cancel: req.cancelOnDisconnect,
          };
          yield { event: { id: "", event: "end", dataJson: jsonBytes({ run_id: RUN, status: "success" }) } };
        },
      }),
    );
    const url = `/threads/${THREAD}/runs/${RUN}/stream?stream_mode=values&stream_mode=updates&cancel_on_disconnect=0&namespace=`;
    const res = await app.inject({ method: "GET", url, headers: { "last-event-id": "1719-3" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers.location).toBe(url);
    expect(res.body).toBe(`event: end\ndata: {"run_id":"${RUN}","status":"success"}\n\n`);
    expect(streamed).toEqual({ threadId: THREAD, lastEventId: "1719-3", modes: ["values", "updates"], cancel: false });

    await app.inject({
      method: "GET",
      url: `/threads/${THREAD}/runs/${RUN}/stream?stream_mode=${encodeURIComponent('["custom"]')}`,
    });
    expect(streamed).toMatchObject({ lastEventId: "", modes: ["custom"] });
  });
});

describe("cancel", () => {
  const cancelling = (answer: { run?: ReturnType<typeof run> }) => (router: ConnectRouter) =>
    router.service(RunService, { cancelRun: () => answer, cancelRuns: () => ({ cancelledCount: 1n }) });

  it("answers 202 without waiting", async () => {
    const { app, calls } = await start(cancelling({ run: run(THREAD, RunStatus.RUNNING) }));
    const res = await app.inject({
      method: "POST",
      url: `/threads/${THREAD}/runs/${RUN}/cancel?wait=0&action=interrupt&reason=taken`,
    });
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe("");
    expect(calls).toMatchObject([
      {
        method: "CancelRun",
        input: { threadId: THREAD, runId: RUN, wait: false, action: CancelAction.INTERRUPT, reason: "taken" },
      },
    ]);
  });

  it("answers the stopped run after waiting, or 204 when a rollback removed it", async () => {
    const stopped = await start(cancelling({ run: run(THREAD, RunStatus.INTERRUPTED) }));
    const res = await stopped.app.inject({ method: "POST", url: `/threads/${THREAD}/runs/${RUN}/cancel?wait=1` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ run_id: RUN, status: "interrupted" });
    await stopped.app.close();

    const gone = await start(cancelling({}));
    const rolled = await gone.app.inject({
      method: "POST",
      url: `/threads/${THREAD}/runs/${RUN}/cancel?wait=true&action=rollback`,
    });
    expect(rolled.statusCode).toBe(204);
    expect(gone.calls).toMatchObject([{ method: "CancelRun", input: { wait: true, action: CancelAction.ROLLBACK } }]);
  });

  it("cancels many runs with 204", async () => {
    const { app, calls } = await start(cancelling({}));
    const res = await app.inject({
      method: "POST",
      url: "/runs/cancel?action=rollback",
      payload: { thread_id: THREAD, run_ids: [RUN] },
    });
    expect(res.statusCode).toBe(204);
    expect(calls).toMatchObject([
      { method: "CancelRuns", input: { threadId: THREAD, runIds: [RUN], action: CancelAction.ROLLBACK } },
    ]);
    const byStatus = await app.inject({ method: "POST", url: "/runs/cancel", payload: { status: "running" } });
    expect(byStatus.statusCode).toBe(204);
    expect(calls[1]).toMatchObject({ input: { statuses: [RunStatus.RUNNING], action: CancelAction.INTERRUPT } });
  });
});

describe("stateless runs", () => {
  it("creates on a temporary thread and names it in Content-Location", async () => {
    const { app, calls } = await start((router) => router.service(RunService, { createRun: () => ({ run: run(TEMP_THREAD) }) }));
    const res = await app.inject({ method: "POST", url: "/runs", payload: { assistant_id: "agent", on_completion: "keep" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-location"]).toBe(`/threads/${TEMP_THREAD}/runs/${RUN}`);
    expect(calls).toMatchObject([{ method: "CreateRun", input: { threadId: "" } }]);
  });

  it("streams and waits by run id alone, with the thread form in the headers", async () => {
    const seen: string[] = [];
    const { app } = await start((router) =>
      router.service(RunService, {
        async *createAndStreamRun(req) {
          seen.push(`create-stream:${req.run?.threadId}`);
          yield { kind: { case: "run", value: run(TEMP_THREAD) } };
          yield { kind: { case: "event", value: { id: "0", event: "end", dataJson: jsonBytes(null) } } };
        },
        async *streamRun(req) {
          seen.push(`stream:${req.threadId}`);
          yield { event: { id: "0", event: "end", dataJson: jsonBytes(null) } };
        },
        createAndJoinRun: (req) => {
          seen.push(`join:${req.run?.threadId}`);
          return { run: run(TEMP_THREAD), resultJson: jsonBytes({ ok: true }) };
        },
      }),
    );
    const streamed = await app.inject({ method: "POST", url: "/runs/stream", payload: { assistant_id: "agent" } });
    expect(streamed.headers.location).toBe(`/threads/${TEMP_THREAD}/runs/${RUN}/stream`);
    expect(streamed.headers["content-location"]).toBe(`/threads/${TEMP_THREAD}/runs/${RUN}`);
    const waited = await app.inject({ method: "POST", url: "/runs/wait", payload: { assistant_id: "agent" } });
    expect(waited.headers.location).toBe(`/threads/${TEMP_THREAD}/runs/${RUN}/join`);
    expect(waited.json()).toEqual({ ok: true });
    const joined = await app.inject({ method: "GET", url: `/runs/${RUN}/stream` });
    expect(joined.headers.location).toBe(`/runs/${RUN}/stream`);
    expect(seen).toEqual(["create-stream:", "join:", "stream:"]);
  });

  it("creates a batch from the JS SDK's camelCase items", async () => {
    const { app, calls } = await start((router) =>
      router.service(RunService, { createRuns: (req) => ({ runs: req.runs.map(() => run(TEMP_THREAD)) }) }),
    );
    const res = await app.inject({
      method: "POST",
      url: "/runs/batch",
      payload: [
        {
          assistantId: "echo",
          assistant_id: "echo",
          input: { a: 1 },
          streamMode: "updates",
          onCompletion: "keep",
          afterSeconds: 3,
        },
        { assistant_id: "echo", stream_mode: ["values"] },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toHaveLength(2);
    const input = calls[0]?.input as { runs: Array<{ threadId: string; afterSeconds: number; spec: { streamModes: string[] } }> };
    expect(input.runs.map((r) => [r.threadId, r.afterSeconds, r.spec.streamModes])).toEqual([
      ["", 3, ["updates"]],
      ["", 0, ["values"]],
    ]);
  });
});
