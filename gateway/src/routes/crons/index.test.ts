import { invalidArgument, jsonBytes } from "@langopen/common";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const CRON = "0190b3c2-8c4f-7000-8000-000000000004";
const RUN = "0190b3c2-8c4f-7000-8000-000000000002";
const ts = { seconds: 1719335433n, nanos: 0 };

const start = standInGateway("crons-route-test");

const cron = {
  cronId: CRON,
  assistantId: "a",
  schedule: "* * * * *",
  createTime: ts,
  updateTime: ts,
  enabled: true,
  payloadJson: jsonBytes({}),
};

describe("cron routes", () => {
  it.each([
    ["POST", "/runs/crons", undefined],
    ["POST", "/runs/crons", { assistant_id: "a" }],
    ["POST", "/runs/crons", { assistant_id: "a", schedule: "* * * * *", end_time: "later" }],
    ["POST", "/runs/crons", { assistant_id: "a", schedule: "* * * * *", timezone: 5 }],
    ["POST", `/threads/${THREAD}/runs/crons`, { assistant_id: "a", schedule: "* * * * *", multitask_strategy: "x" }],
    ["POST", "/threads/x/runs/crons", { assistant_id: "a", schedule: "* * * * *" }],
    ["POST", "/runs/crons/search", { sort_by: "schedule" }],
    ["POST", "/runs/crons/search", { select: ["nope"] }],
    ["POST", "/runs/crons/count", { thread_id: "x" }],
    ["GET", "/runs/crons/x", undefined],
    ["PATCH", `/runs/crons/${CRON}`, { end_time: 5 }],
    ["DELETE", "/runs/crons/x", undefined],
    ["GET", "/runs/x/webhooks", undefined],
    ["GET", `/runs/${RUN}/webhooks?status=lost`, undefined],
  ])("%s %s %j answers 422 without calling the api-server", async (method, url, body) => {
    const { app, methods: calls } = await start();
    const res = await app.inject({ method: method as "GET", url, payload: body as object | undefined });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ detail: expect.any(String) });
    expect(calls).toEqual([]);
  });

  it("answers 422 for a schedule the api-server refuses", async () => {
    const { app, methods: calls } = await start((router) =>
      router.service(CronService, {
        createCron() {
          throw invalidArgument('schedule "61 * * * *" is not a valid cron expression', [
            { field: "schedule", description: "bad" },
          ]);
        },
      }),
    );
    const res = await app.inject({ method: "POST", url: "/runs/crons", payload: { assistant_id: "a", schedule: "61 * * * *" } });
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toMatch(/not a valid cron expression/);
    expect(calls).toEqual(["CreateCron"]);
  });

  it("answers a created cron, a bare count and 204 on delete", async () => {
    const { app } = await start((router) =>
      router.service(CronService, {
        createCron: () => ({ cron }),
        countCrons: () => ({ count: 3n }),
        deleteCron: () => ({}),
        searchCrons: () => ({ crons: [cron] }),
      }),
    );
    const created = await app.inject({
      method: "POST",
      url: "/runs/crons",
      payload: { assistant_id: "a", schedule: "* * * * *" },
    });
    expect(created.json()).toMatchObject({ cron_id: CRON, thread_id: null, enabled: true, payload: {} });
    expect((await app.inject({ method: "POST", url: "/runs/crons/count" })).body).toBe("3");
    const searched = await app.inject({ method: "POST", url: "/runs/crons/search", payload: { select: ["cron_id"] } });
    expect(searched.json()).toEqual([{ cron_id: CRON }]);
    const deleted = await app.inject({ method: "DELETE", url: `/runs/crons/${CRON}` });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe("");
  });

  it("lists a run's webhook deliveries", async () => {
    const { app } = await start((router) =>
      router.service(WebhookService, {
        listWebhookDeliveries: (req) => ({
          deliveries: [
            {
              deliveryId: CRON,
              runId: req.runId,
              url: "https://example.com/h",
              status: WebhookDeliveryStatus.FAILED,
              attempts: 1,
              lastError: "refused webhook",
              createTime: ts,
            },
          ],
        }),
      }),
    );
    const res = await app.inject({ method: "GET", url: `/runs/${RUN}/webhooks?status=failed` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      expect.objectContaining({
        run_id: RUN,
        status: "failed",
        last_error: "refused webhook",
        last_status: null,
        delivered_at: null,
      }),
    ]);
  });
});
