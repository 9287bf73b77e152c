// scripts/parity-smoke: does a deployed server describe the upstream API? Its GET /openapi.json
// against the upstream contract (scripts/upstream/contract.json), with the comparison of
// scripts/check-parity.mjs (scripts/lib/parity.mjs): every upstream operation served, every
// upstream request-body field accepted.
import { readFile } from "node:fs/promises";
import { compare, DEFAULT_CONTRACT, fetchServed, operations } from "../lib/parity.mjs";
import { createReport, describeError, parseCommandLine, run } from "./lib.mjs";

const NAME = "parity-smoke";
/** How many missing operations or fields a FAIL line names (the full list: scripts/check-parity.mjs --url). */
const LISTED = 8;
const ctx = parseCommandLine(NAME, {
  summary: "Checks that the served /openapi.json has every operation and request-body field of the upstream API.",
  options: { contract: { type: "string", default: DEFAULT_CONTRACT } },
  usage: "[--contract FILE]\n  --contract FILE    the upstream contract (default scripts/upstream/contract.json)",
});
const report = createReport(NAME, ctx.timeoutMs);

const listed = (items) =>
  `${items.slice(0, LISTED).join(", ")}${items.length > LISTED ? `, and ${items.length - LISTED} more` : ""}`;

run(report, async () => {
  let contract;
  try {
    contract = JSON.parse(await readFile(ctx.values.contract, "utf8"));
  } catch (err) {
    report.fail("contract", `cannot read ${ctx.values.contract}: ${describeError(err)}`);
    return;
  }
  let served;
  try {
    served = await fetchServed(ctx.url, { apiKey: ctx.apiKey, signal: report.signal() });
  } catch (err) {
    report.fail("openapi", `GET /openapi.json from ${ctx.url}: ${describeError(err)}`);
    return;
  }
  if (typeof served !== "object" || served === null || typeof served.paths !== "object") {
    report.fail("openapi", "GET /openapi.json answered JSON without `paths`");
    return;
  }
  report.ok("openapi", `GET /openapi.json: OpenAPI ${served.openapi ?? "?"}, ${operations(served).size} operations`);

  const { rows, present, total, missingFields, extras } = compare(contract, served);
  const missing = rows.filter((r) => !r.present).map((r) => r.operation);
  if (missing.length === 0)
    report.ok("operations", `${present} of ${total} upstream operations served, ${extras.length} beyond upstream`);
  else report.fail("operations", `${present} of ${total} upstream operations served; missing: ${listed(missing)}`);

  if (missingFields.length === 0) report.ok("body-fields", "every upstream request-body field accepted");
  else {
    const fields = missingFields.map(({ operation, field }) => `${operation} ${field}`);
    report.fail("body-fields", `${missingFields.length} upstream request-body field(s) missing: ${listed(fields)}`);
  }
});
