import { Writable } from "node:stream";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createLogger, type Logger, notFound, unavailable } from "@langopen/common";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { describe, expect, it } from "vitest";
import { repeatedKeys, topLevelKeys } from "./test-fixtures/launcher-process.js";

/** A logger writing into an array, one entry per line, as written. */
function capture(options: { pretty?: boolean; service?: string } = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  let pending = "";
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString("utf8");
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      lines.push(...parts);
      callback();
    },
  });
  const logger = createLogger({
    service: options.service ?? "langopen",
    level: "info",
    pretty: options.pretty ?? false,
    destination,
  });
  return { logger, lines };
}

/** A ConnectError as a client receives it: its details still encoded (google.rpc.ErrorInfo as bytes). */
async function received(err: ConnectError): Promise<ConnectError> {
  const transport = createRouterTransport(({ service }) => {
    service(Health, {
      check() {
        throw err;
      },
    });
  });
  try {
    await createClient(Health, transport).check({ service: "" });
  } catch (caught) {
    return caught as ConnectError;
  }
  throw new Error("the call did not fail");
}

describe("log lines", () => {
  it("carry each key once: a child's binding replaces its parent's (service rebound in the launcher)", () => {
    const { logger, lines } = capture();
    const api = logger.child({ service: "api-server" });
    api.info({ port: 1 }, "Started RPC server");
    api.child({ component: "runs" }).child({ component: "leases" }).info("Took a lease");
    logger.info("LangOpen is ready");

    expect(lines).toHaveLength(3);
    for (const line of lines) expect(repeatedKeys(line)).toEqual([]);
    expect(topLevelKeys(lines[0] ?? "")).toEqual(["level", "time", "service", "version", "pid", "port", "msg"]);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ service: "api-server", port: 1 });
    expect(JSON.parse(lines[1] ?? "")).toMatchObject({ service: "api-server", component: "leases" });
    // The parent keeps its own bindings.
    expect(JSON.parse(lines[2] ?? "")).toMatchObject({ service: "langopen" });
  });

  it("show a received ConnectError by its code, message and ErrorInfo, without its binary details", async () => {
    const { logger, lines } = capture();
    const err = await received(notFound("Thread", "t1"));
    expect(err.details.length).toBe(1);
    logger.warn({ err }, "Failed RPC");

    const line = lines[0] ?? "";
    expect(line).not.toMatch(/"0":\d/);
    expect(line).not.toContain('"details"');
    const logged = (JSON.parse(line) as { err: Record<string, unknown> }).err;
    expect(logged).toMatchObject({
      type: "ConnectError",
      code: "NotFound",
      message: "Thread t1 not found",
      reason: "NOT_FOUND",
      domain: "langopen.dev",
      metadata: { kind: "Thread", id: "t1" },
    });
    expect(String(logged.stack)).toContain("ConnectError");
  });

  it("show a ConnectError's cause, and a ConnectError that is another error's cause, the same way", () => {
    const { logger, lines } = capture();
    logger.error({ err: unavailable("postgres", new Error("connect ECONNREFUSED")) }, "Lost Postgres during RPC");
    logger.error({ err: new Error("could not save", { cause: new ConnectError("busy", Code.Aborted) }) }, "Failed to save");

    const [first, second] = lines.map((line) => (JSON.parse(line) as { err: Record<string, unknown> }).err);
    expect(first).toMatchObject({
      code: "Unavailable",
      reason: "DEPENDENCY_UNAVAILABLE",
      metadata: { dependency: "postgres" },
      cause: { type: "Error", message: "connect ECONNREFUSED" },
    });
    expect(second?.cause).toMatchObject({ type: "ConnectError", code: "Aborted", message: "busy" });
    for (const line of lines) expect(line).not.toContain('"details"');
  });

  it("are human-readable when asked (as on a terminal)", () => {
    const { logger, lines } = capture({ pretty: true });
    logger.child({ service: "worker" }).child({ component: "scheduler" }).info({ poll_ms: 1000 }, "Started cron scheduler");

    expect(lines).toHaveLength(1);
    const line = lines[0] ?? "";
    expect(() => JSON.parse(line)).toThrow();
    expect(line).toContain("INFO");
    expect(line).toContain("worker/scheduler: Started cron scheduler");
    expect(line).toContain('"poll_ms":1000');
  });
});
