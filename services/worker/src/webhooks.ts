import { createHmac } from "node:crypto";
import { promises as dns, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { type Logger, startPolling } from "@langopen/common";
import type { Signals, WebhookDeliveryRow, WebhookStore } from "@langopen/data-plane";
import { WORKER_DEFAULTS } from "./config.js";
import type { WorkerMetrics } from "./metrics.js";

export interface WebhookDispatcherOptions {
  /** Signs every body when set (header X-Langopen-Signature). */
  secret?: string;
  /** `host` or `host:port` entries that may be private or loopback targets. */
  allowedHosts?: string[];
  /**
   * Where this installation's API answers: a webhook that is a path (`/hooks/done`) is sent there,
   * as upstream sends it to its own server (the project's custom routes, usually). Absent: refused.
   */
  selfUrl?: string;
  /** Longest wait for one attempt's answer. */
  timeoutMs?: number;
  /** Attempts before a delivery is given up as failed. */
  maxAttempts?: number;
  /** The first retry's delay; it doubles per attempt (with jitter) up to backoffMaxMs. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Milliseconds between looks for due deliveries (a queued delivery also wakes the dispatcher). */
  pollMs?: number;
}

export interface WebhookDispatcherDeps extends WebhookDispatcherOptions {
  webhooks: WebhookStore;
  logger: Logger;
  /** Notices of queued deliveries (a run's end that has a webhook) wake the dispatcher at once. */
  signals?: Signals;
  /** Deliveries sent at once. */
  batch?: number;
  /** Where delivery outcomes are counted; absent: not counted. */
  metrics?: Pick<WorkerMetrics, "webhookDelivery">;
}

export interface WebhookDispatcher {
  /** Sends what is due now (tests; the loop calls it). */
  pollOnce(): Promise<void>;
  stop(): Promise<void>;
}

export const SIGNATURE_HEADER = "x-langopen-signature";
export const USER_AGENT = "LangOpen-Webhooks/0.1";

/** A target the dispatcher will not call; the delivery fails at once with the reason. */
export class RefusedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefusedTargetError";
  }
}

/** Loopback, private, link-local, unique-local, and the other ranges that never face the internet. */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, "ipv6");
}

/** The 8 groups of an IPv6 address (which may end in dotted IPv4). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a, b, c, d] = dotted[1].split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/** The IPv4 address an IPv6 one stands for (IPv4-mapped, or NAT64 64:ff9b::/96), if any. */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return undefined;
  const hi = g[6] ?? 0;
  const lo = g[7] ?? 0;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** True for an address that is loopback, private, link-local, unique-local or otherwise not public. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, "ipv4");
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return NON_PUBLIC.check(v4, "ipv4");
  return NON_PUBLIC.check(address, "ipv6");
}

interface AllowEntry {
  host: string;
  port?: number;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address. */
export function parseAllowedHosts(entries: readonly string[]): AllowEntry[] {
  const out: AllowEntry[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed?.[1]) {
      out.push({ host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : undefined });
    } else if (entry.split(":").length === 2) {
      const [host = "", port = ""] = entry.split(":");
      out.push({ host, port: Number(port) });
    } else {
      out.push({ host: entry });
    }
  }
  return out;
}

/** Where a delivery may be sent: the URL, and the vetted addresses to connect to (unless allow-listed). */
export interface VettedTarget {
  url: URL;
  /** Pins the connection to the addresses checked (no second, different DNS answer). */
  lookup?: LookupFunction;
}

type Resolve = (host: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * Checks a webhook URL: absolute http(s) only; unless its host (or host:port) is allow-listed,
 * every address its host resolves to must be public. Throws RefusedTargetError otherwise.
 */
export async function vetTarget(
  raw: string,
  allowed: readonly AllowEntry[],
  resolve: Resolve = systemResolve,
  selfUrl?: string,
): Promise<VettedTarget> {
  // A path is this installation's own API (never another host: "//host/x" is not a path).
  if (raw.startsWith("/") && !raw.startsWith("//") && !raw.startsWith("/\\")) {
    if (selfUrl === undefined)
      throw new RefusedTargetError(
        `refused webhook ${JSON.stringify(raw)}: a path needs the API's own URL (LANGOPEN_GATEWAY_URL) to be sent to`,
      );
    const url = new URL(raw, selfUrl);
    if (url.origin !== new URL(selfUrl).origin)
      throw new RefusedTargetError(`refused webhook ${JSON.stringify(raw)}: not a path`);
    return { url };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RefusedTargetError(`refused webhook ${JSON.stringify(raw)}: neither an absolute URL nor a path`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RefusedTargetError(`refused webhook ${JSON.stringify(raw)}: only http and https URLs are supported`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  if (allowed.some((e) => e.host === host && (e.port === undefined || e.port === port))) return { url };
  const refuse = (address: string) =>
    new RefusedTargetError(
      `refused webhook to ${host}: ${address === host ? "it" : `it resolves to ${address}, which`} is a loopback, private, link-local or unique-local address (allow it with WEBHOOK_ALLOWED_HOSTS)`,
    );
  if (isIP(host) !== 0) {
    if (isNonPublicAddress(host)) throw refuse(host);
    return { url };
  }
  const addresses = await resolve(host);
  if (addresses.length === 0) throw new Error(`no address found for ${host}`);
  for (const { address } of addresses) if (isNonPublicAddress(address)) throw refuse(address);
  const first = addresses[0] as LookupAddress;
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  };
  return { url, lookup };
}

/** The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signBody(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** A time as the public API writes it (`2024-06-25T17:10:33.109000+00:00`). */
function isoNow(): string {
  const text = new Date().toISOString();
  return `${text.slice(0, 23)}000+00:00`;
}

/** POSTs the body; resolves with the answer's status (the body is read and dropped). */
function post(
  target: VettedTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  const client = target.url.protocol === "https:" ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = client.request(
      target.url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: target.lookup,
        signal,
      },
      (res) => {
        res.on("error", reject);
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end(body);
  });
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/**
 * Sends run webhooks from the outbox: claims due deliveries (SKIP LOCKED, with a lease), POSTs
 * the JSON body with a signature when a secret is set, and records delivered (2xx), a retry
 * with exponential backoff and jitter, or failed (attempts exhausted, or a refused target).
 */
export function startWebhookDispatcher(deps: WebhookDispatcherDeps): WebhookDispatcher {
  const { webhooks, logger } = deps;
  const timeoutMs = deps.timeoutMs ?? WORKER_DEFAULTS.WEBHOOK_TIMEOUT_MS;
  const maxAttempts = deps.maxAttempts ?? WORKER_DEFAULTS.WEBHOOK_MAX_ATTEMPTS;
  const backoffBaseMs = deps.backoffBaseMs ?? WORKER_DEFAULTS.WEBHOOK_BACKOFF_MS;
  const backoffMaxMs = deps.backoffMaxMs ?? 300_000;
  const pollMs = deps.pollMs ?? 1_000;
  const batch = deps.batch ?? 10;
  const allowed = parseAllowedHosts(deps.allowedHosts ?? []);
  const stopping = new AbortController();

  /** The delay before attempt n+1: base·2^(n−1), capped, with the upper half jittered. */
  const backoff = (attempt: number) => {
    const full = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(full / 2 + Math.random() * (full / 2));
  };

  async function deliver(row: WebhookDeliveryRow): Promise<void> {
    const fence = { deliveryId: row.delivery_id, attempt: row.attempts };
    const log = logger.child({ delivery_id: row.delivery_id, run_id: row.run_id, attempt: row.attempts });
    let target: VettedTarget;
    try {
      target = await vetTarget(row.url, allowed, undefined, deps.selfUrl);
    } catch (err) {
      if (err instanceof RefusedTargetError) {
        await webhooks.settle(fence, { kind: "failed", error: err.message, status: null });
        deps.metrics?.webhookDelivery("refused");
        log.warn({ reason: err.message }, "Refused webhook target");
        return;
      }
      return settleFailure(fence, row, describe(err), null, log);
    }
    const body = JSON.stringify({ ...row.payload, webhook_sent_at: isoNow() });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      "x-langopen-delivery": row.delivery_id,
      "x-langopen-attempt": String(row.attempts),
    };
    if (deps.secret) headers[SIGNATURE_HEADER] = signBody(deps.secret, body, Math.floor(Date.now() / 1000));
    let status: number;
    try {
      status = await post(target, body, headers, timeoutMs, stopping.signal);
    } catch (err) {
      // Stopping: the lease runs out and another dispatcher (or this one, restarted) retries.
      if (stopping.signal.aborted) return;
      return settleFailure(fence, row, describe(err), null, log);
    }
    if (status >= 200 && status < 300) {
      await webhooks.settle(fence, { kind: "delivered", status });
      deps.metrics?.webhookDelivery("delivered");
      log.debug({ status_code: status }, "Delivered webhook");
      return;
    }
    const note = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
    return settleFailure(fence, row, `the webhook answered HTTP ${status}${note}`, status, log);
  }

  async function settleFailure(
    fence: { deliveryId: string; attempt: number },
    row: WebhookDeliveryRow,
    error: string,
    status: number | null,
    log: Logger,
  ): Promise<void> {
    if (row.attempts >= maxAttempts) {
      await webhooks.settle(fence, { kind: "failed", error: `gave up after ${row.attempts} attempts: ${error}`, status });
      deps.metrics?.webhookDelivery("failed");
      log.warn({ error, status_code: status }, "Gave up webhook delivery");
    } else {
      const retryInMs = backoff(row.attempts);
      await webhooks.settle(fence, { kind: "retry", retryInMs, error, status });
      deps.metrics?.webhookDelivery("retried");
      log.debug({ error, status_code: status, retry_in_ms: retryInMs }, "Failed webhook attempt; will retry");
    }
  }

  async function pollOnce(): Promise<void> {
    for (;;) {
      // The lease covers a whole attempt, with room to record its outcome.
      const claimed = await webhooks.claimDue(batch, timeoutMs + 30_000);
      await Promise.all(
        claimed.map((row) =>
          deliver(row).catch((err: unknown) => logger.warn({ err, delivery_id: row.delivery_id }, "Failed to deliver webhook")),
        ),
      );
      if (claimed.length < batch || stopping.signal.aborted) return;
    }
  }

  const polling = startPolling(pollOnce, {
    intervalMs: pollMs,
    logger,
    failure: "Failed to send due webhooks; trying again next poll",
  });
  // A delivery was queued (a run with a webhook ended): look at once (again, if a poll is under
  // way). Ends without a webhook send no notice, so they cost no look; retries, and deliveries
  // whose notice was lost, go out with the poll.
  const offWebhooksDue = deps.signals?.onWebhooksDue(() => polling.wake()) ?? (() => {});
  return {
    pollOnce,
    async stop() {
      stopping.abort();
      offWebhooksDue();
      await polling.stop();
    },
  };
}
