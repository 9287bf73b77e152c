// scripts/cluster-smoke: is a deployed LangOpen up, and is its door closed? GET /ok, GET /info,
// GET /metrics (when served), an authenticated POST /assistants/search and, when a key is given,
// the same request without it, which must be refused.
import { createReport, describeError, parseCommandLine, request, run } from "./lib.mjs";

const NAME = "cluster-smoke";
const ctx = parseCommandLine(NAME, {
  summary: "Checks a server's health: /ok, /info, /metrics, an authenticated search and an unauthenticated one.",
});
const report = createReport(NAME, ctx.timeoutMs);

/** One check: its request, then `judge` on the answer; no answer at all fails it. */
async function check(name, path, options, judge) {
  let res;
  try {
    res = await request(ctx, report, path, options);
  } catch (err) {
    report.fail(name, `${options?.method ?? "GET"} ${path}: no answer from ${ctx.url}: ${describeError(err)}`);
    return false;
  }
  judge(res);
  return true;
}

const bodyHint = (res) => (res.text ? `: ${res.text.slice(0, 160)}` : "");

run(report, async () => {
  const reachable = await check("ok", "/ok", {}, (res) => {
    if (res.status !== 200) return report.fail("ok", `GET /ok answered ${res.status}${bodyHint(res)}`);
    if (res.json !== undefined && typeof res.json === "object" && res.json !== null && "ok" in res.json && res.json.ok !== true) {
      return report.fail("ok", `GET /ok answered 200 with ${res.text.slice(0, 160)}`);
    }
    report.ok("ok", `GET /ok 200 ${res.text.slice(0, 60)}`);
  });
  // Nothing answers: the other checks would only repeat the same failure.
  if (!reachable) return;

  await check("info", "/info", {}, (res) => {
    if (res.status !== 200) return report.fail("info", `GET /info answered ${res.status}${bodyHint(res)}`);
    if (res.json === undefined || typeof res.json !== "object" || res.json === null || Array.isArray(res.json)) {
      return report.fail("info", `GET /info answered 200 without a JSON object: ${res.text.slice(0, 160)}`);
    }
    const version = typeof res.json.version === "string" ? ` version ${res.json.version}` : "";
    report.ok("info", `GET /info 200 JSON${version}`);
  });

  await check("metrics", "/metrics", {}, (res) => {
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      return report.skip("metrics", `GET /metrics answered ${res.status} (not served to this caller)`);
    }
    if (res.status !== 200) return report.fail("metrics", `GET /metrics answered ${res.status}${bodyHint(res)}`);
    const type = res.headers.get("content-type") ?? "";
    if (!type.startsWith("text/plain") || !/^# (TYPE|HELP) /m.test(res.text)) {
      return report.fail("metrics", `GET /metrics answered 200 but not Prometheus text (content-type ${type || "none"})`);
    }
    const families = res.text.split("\n").filter((line) => line.startsWith("# TYPE ")).length;
    report.ok("metrics", `GET /metrics 200 Prometheus text, ${families} metric families`);
  });

  const search = { method: "POST", body: { limit: 1 } };
  await check("assistants-search", "/assistants/search", search, (res) => {
    const how = ctx.apiKey ? "with the API key" : "without an API key";
    if (res.status !== 200)
      return report.fail("assistants-search", `POST /assistants/search ${how} answered ${res.status}${bodyHint(res)}`);
    if (!Array.isArray(res.json))
      return report.fail("assistants-search", `POST /assistants/search answered 200 without a JSON array`);
    report.ok("assistants-search", `POST /assistants/search ${how} 200, ${res.json.length} assistant(s)`);
  });

  if (!ctx.apiKey) {
    report.skip("unauthenticated", "no API key given: nothing to prove about a closed door");
    return;
  }
  await check("unauthenticated", "/assistants/search", { ...search, auth: false }, (res) => {
    if (res.status === 401 || res.status === 403)
      return report.ok("unauthenticated", `POST /assistants/search without a key refused with ${res.status}`);
    report.fail("unauthenticated", `POST /assistants/search without a key answered ${res.status}, not 401/403: the door is open`);
  });
});
