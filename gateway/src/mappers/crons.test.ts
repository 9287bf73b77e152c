import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import { CronSchema, OnRunCompleted } from "@langopen/gen/langopen/data/v1/cron_pb";
import { Durability, MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import { WebhookDeliverySchema, WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { describe, expect, it } from "vitest";
import { fromApiCronCreate, fromApiCronPatch, fromApiCronSearch, parseDateTime, toApiCron } from "./crons.js";
import { toApiWebhookDelivery } from "./webhooks.js";

const t0 = { seconds: 1719335433n, nanos: 109781000 };
const CRON = "0190b3c2-8c4f-7000-8000-000000000003";
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const ASSISTANT = "fe096781-5601-53d2-b2f6-0d3403f7e9ca";

describe("toApiCron", () => {
  const cron = create(CronSchema, {
    cronId: CRON,
    assistantId: ASSISTANT,
    threadId: "",
    schedule: "*/5 * * * *",
    timezone: "Europe/Paris",
    createTime: t0,
    updateTime: t0,
    nextRunTime: t0,
    metadata: { team: "a" },
    enabled: true,
    onRunCompleted: OnRunCompleted.KEEP,
    multitaskStrategy: MultitaskStrategy.ENQUEUE,
    payloadJson: jsonBytes({ assistant_id: ASSISTANT, input: { x: 1 }, metadata: { team: "a" } }),
  });

  it("writes the public Cron: stateless thread null, no timezone or on_run_completed unless selected", () => {
    expect(toApiCron(cron)).toStrictEqual({
      cron_id: CRON,
      assistant_id: ASSISTANT,
      thread_id: null,
      end_time: null,
      schedule: "*/5 * * * *",
      created_at: "2024-06-25T17:10:33.109781+00:00",
      updated_at: "2024-06-25T17:10:33.109781+00:00",
      user_id: null,
      payload: { assistant_id: ASSISTANT, input: { x: 1 }, metadata: { team: "a" } },
      next_run_date: "2024-06-25T17:10:33.109781+00:00",
      metadata: { team: "a" },
      enabled: true,
    });
  });

  it("selects fields, the optional ones included", () => {
    expect(toApiCron(cron, ["cron_id", "timezone", "on_run_completed", "now"])).toStrictEqual({
      cron_id: CRON,
      timezone: "Europe/Paris",
      on_run_completed: "keep",
    });
    expect(
      toApiCron(create(CronSchema, { cronId: CRON, threadId: THREAD }), ["thread_id", "timezone", "on_run_completed"]),
    ).toStrictEqual({
      thread_id: THREAD,
      timezone: null,
      on_run_completed: null,
    });
  });
});

describe("cron requests", () => {
  it("maps a create body to a request whose payload is the run create's RunSpec", () => {
    const req = fromApiCronCreate(THREAD, {
      assistant_id: "agent",
      schedule: "0 9 * * *",
      timezone: "America/New_York",
      end_time: "2030-01-31T12:00:00+01:00",
      input: { q: 1 },
      metadata: { m: true },
      stream_mode: "updates",
      durability: "sync",
      webhook: "https://example.com/h",
      multitask_strategy: "interrupt",
    });
    expect(req.threadId).toBe(THREAD);
    expect(req.enabled).toBe(true);
    expect(req.timezone).toBe("America/New_York");
    expect(timestampDate(req.endTime as NonNullable<typeof req.endTime>).toISOString()).toBe("2030-01-31T11:00:00.000Z");
    expect(req.multitaskStrategy).toBe(MultitaskStrategy.INTERRUPT);
    expect(req.onRunCompleted).toBe(OnRunCompleted.UNSPECIFIED);
    expect(req.metadata).toEqual({ m: true });
    const spec = req.payload;
    expect(spec?.assistantId).toBe("agent");
    expect(parseJsonBytes(spec?.inputJson ?? new Uint8Array(), null)).toEqual({ q: 1 });
    expect(spec?.streamModes).toEqual(["updates"]);
    expect(spec?.durability).toBe(Durability.SYNC);
    expect(spec?.webhook).toBe("https://example.com/h");

    const stateless = fromApiCronCreate("", {
      assistant_id: "agent",
      schedule: "@daily",
      enabled: false,
      on_run_completed: "keep",
      timezone: null,
    });
    expect(stateless).toMatchObject({ threadId: "", enabled: false, onRunCompleted: OnRunCompleted.KEEP, timezone: "" });
    expect(stateless.endTime).toBeUndefined();
  });

  it("maps a patch: omitted fields absent, end_time null clears, payload fields named in the mask", () => {
    const cleared = fromApiCronPatch(CRON, { end_time: null, metadata: { a: 1 } });
    expect(cleared).toMatchObject({ cronId: CRON, clearEndTime: true, metadata: { a: 1 } });
    expect(cleared.endTime).toBeUndefined();
    expect(cleared.payload).toBeUndefined();
    expect(cleared.payloadMask).toBeUndefined();
    expect(cleared.schedule).toBeUndefined();
    expect(cleared.enabled).toBeUndefined();

    const patched = fromApiCronPatch(CRON, {
      input: null,
      stream_subgraphs: false,
      webhook: "https://x.test/",
      end_time: "2030-01-01T00:00:00",
    });
    expect(patched.clearEndTime).toBe(false);
    expect(timestampDate(patched.endTime as NonNullable<typeof patched.endTime>).toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(patched.payloadMask?.paths).toEqual(["input_json", "stream_subgraphs", "webhook"]);
    expect(patched.payload?.inputJson).toHaveLength(0);
    expect(patched.payload?.webhook).toBe("https://x.test/");
  });

  it("maps a search with its defaults", () => {
    expect(fromApiCronSearch({})).toMatchObject({ assistantId: "", threadId: "", limit: 10, offset: 0, sortBy: "" });
    expect(fromApiCronSearch({ enabled: false, sort_by: "next_run_date", sort_order: "asc" })).toMatchObject({
      enabled: false,
      sortBy: "next_run_date",
    });
  });

  it("reads date-times with or without an offset", () => {
    expect(timestampDate(parseDateTime("2030-05-01T10:20:30.5Z", "end_time")).toISOString()).toBe("2030-05-01T10:20:30.500Z");
    expect(timestampDate(parseDateTime("2030-05-01 10:20", "end_time")).toISOString()).toBe("2030-05-01T10:20:00.000Z");
  });
});

describe("toApiWebhookDelivery", () => {
  it("writes a delivery with nulls for what has not happened", () => {
    expect(
      toApiWebhookDelivery(
        create(WebhookDeliverySchema, {
          deliveryId: CRON,
          runId: THREAD,
          url: "https://example.com/h",
          status: WebhookDeliveryStatus.PENDING,
          attempts: 2,
          nextAttemptTime: t0,
          lastError: "the webhook answered HTTP 500",
          lastStatusCode: 500,
          createTime: t0,
        }),
      ),
    ).toStrictEqual({
      delivery_id: CRON,
      run_id: THREAD,
      url: "https://example.com/h",
      status: "pending",
      attempts: 2,
      next_attempt_at: "2024-06-25T17:10:33.109781+00:00",
      last_error: "the webhook answered HTTP 500",
      last_status: 500,
      created_at: "2024-06-25T17:10:33.109781+00:00",
      delivered_at: null,
    });
  });
});
