// What the three smoke scripts (scripts/cluster-smoke, scripts/parity-smoke,
// scripts/agent-compat-smoke) share: the command line, the report (one line per check, then a
// summary), a bound on the whole script's time, and requests to the server under test.
import { parseArgs } from "node:util";

const DEFAULT_URL = "http://127.0.0.1:8123";
const DEFAULT_TIMEOUT_SECONDS = 60;
/** The longest any one plain request may take (less when the script's time is nearly up). */
const REQUEST_TIMEOUT_MS = 15_000;

/** A usage error: the script prints it with the usage and exits 2. */
class UsageError extends Error {}

/**
 * The script's options: `--url`, `--api-key`, `--timeout`, `--help` and the script's own
 * (`options`, parseArgs style). Exits 0 after `--help`, 2 on a usage error.
 */
export function parseCommandLine(name, { summary, options = {}, usage = "" }) {
  const text = `Usage: scripts/${name} [--url URL] [--api-key KEY] [--timeout SECONDS]${usage ? ` ${usage.split("\n")[0]}` : ""}
${summary}
  --url URL          the server (default: $LANGOPEN_URL, else ${DEFAULT_URL})
  --api-key KEY      sent as x-api-key (default: $LANGOPEN_API_KEY, else $LANGGRAPH_API_KEY)
  --timeout SECONDS  bound on the whole script (default ${DEFAULT_TIMEOUT_SECONDS})
${usage
  .split("\n")
  .slice(1)
  .map((line) => `${line}\n`)
  .join("")}Prints one line per check, \`ok <check> <detail>\`, \`FAIL <check> <why>\` or \`skip <check> <why>\`, then
\`${name}: N passed, M failed\`. Exit status: 0 if every check passed, 1 if one failed, 2 on a usage error.`.trimEnd();
  try {
    const { values } = parseArgs({
      options: {
        url: { type: "string" },
        "api-key": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...options,
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(text);
      process.exit(0);
    }
    const raw = values.url ?? process.env.LANGOPEN_URL ?? DEFAULT_URL;
    let url;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`--url ${raw} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url ${raw} is not an http(s) URL`);
    const timeout = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) {
      throw new UsageError(`--timeout ${values.timeout} is not a number of seconds between 0 and 3600`);
    }
    const apiKey = values["api-key"] ?? process.env.LANGOPEN_API_KEY ?? process.env.LANGGRAPH_API_KEY;
    return { url: url.href.replace(/\/+$/, ""), apiKey: apiKey || undefined, timeoutMs: timeout * 1000, values };
  } catch (err) {
    const message = err instanceof UsageError || err?.code?.startsWith?.("ERR_PARSE_ARGS") ? err.message : String(err);
    console.error(`${name}: ${message}\n${text}`);
    process.exit(2);
  }
}

/** A usage error found after the command line was read (a bad `--input`): exits 2. */
export function usageError(name, message) {
  console.error(`${name}: ${message} (see scripts/${name} --help)`);
  process.exit(2);
}

/**
 * The report of one script and its bound: `ok`/`fail`/`skip` print a line each; `finish` prints
 * the summary and exits. Past `timeoutMs` the script is stopped with a FAIL line and exit 1.
 */
export function createReport(name, timeoutMs) {
  let passed = 0;
  let failed = 0;
  let finished = false;
  const deadline = Date.now() + timeoutMs;
  const oneLine = (text) => String(text).replace(/\s+/g, " ").trim();
  const report = {
    deadline,
    /** Milliseconds left before the script's bound. */
    remainingMs: () => Math.max(0, deadline - Date.now()),
    /** A signal that aborts at the script's bound, or after `ms` if sooner. */
    signal: (ms = REQUEST_TIMEOUT_MS) => AbortSignal.timeout(Math.max(1, Math.min(ms, deadline - Date.now()))),
    ok(check, detail = "") {
      passed++;
      console.log(`ok ${check} ${oneLine(detail)}`.trimEnd());
    },
    fail(check, why) {
      failed++;
      console.log(`FAIL ${check} ${oneLine(why)}`);
    },
    skip(check, why) {
      console.log(`skip ${check} ${oneLine(why)}`);
    },
    finish() {
      if (finished) return;
      finished = true;
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      process.exit(failed > 0 ? 1 : 0);
    },
  };
  const timer = setTimeout(() => {
    report.fail("timeout", `the script did not finish within ${timeoutMs / 1000} s (--timeout)`);
    report.finish();
  }, timeoutMs);
  timer.unref();
  return report;
}

/** An error as one short line: a refused connection, a timeout, an HTTP status and its body. */
export function describeError(err) {
  if (err?.name === "TimeoutError" || err?.name === "AbortError")
    return "timed out (the script's --timeout, or a request's own bound)";
  // The network error's code (ECONNREFUSED, ENOTFOUND...) is a cause or two down (fetch, then the SDK).
  let cause = err?.cause;
  for (let depth = 0; depth < 5 && cause && !cause.code && cause.cause; depth++) cause = cause.cause;
  if (cause?.code) return `${err.message}: ${cause.code}${cause.address ? ` ${cause.address}:${cause.port}` : ""}`;
  if (cause instanceof Error) return `${err.message}: ${cause.message}`;
  if (typeof err?.status === "number") return `HTTP ${err.status}: ${String(err.text ?? err.message).slice(0, 200)}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One request to the server under test (never another host): `path` is joined to the URL; the
 * API key goes along unless `auth` is false. Returns the status, the headers and the body as text
 * (and as JSON when it parses); throws only when no answer came.
 */
export async function request(ctx, report, path, { method = "GET", body, auth = true, headers = {} } = {}) {
  const target = `${ctx.url}${path}`;
  const res = await fetch(target, {
    method,
    headers: {
      ...(body !== undefined && { "content-type": "application/json" }),
      ...(auth && ctx.apiKey && { "x-api-key": ctx.apiKey }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: report.signal(),
    redirect: "manual",
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Runs a script's checks: an exception nobody caught is one more failure. */
export function run(report, checks) {
  checks().then(
    () => report.finish(),
    (err) => {
      report.fail("script", `stopped by an unexpected error: ${describeError(err)}`);
      report.finish();
    },
  );
}
