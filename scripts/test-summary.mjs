#!/usr/bin/env node
// Prints the one-line test summary CI reads, `N passed, M failed`, from Vitest's JSON report
// (written by `npm test`), and exits non-zero when anything failed.
//
//   node scripts/test-summary.mjs [--report FILE] [--test-exit-code CODE] [--failed-checks K]
//
// M counts failed tests, plus one for each test file that failed without a failed test (a file
// that did not import, a failing hook), plus K failed checks run besides the tests (scripts/check
// passes the proto and parity checks here). A missing or unreadable report counts as one failure,
// and so does a non-zero CODE from the test command when the report shows no failure (an
// unhandled error).
// Each failed test is named with the first lines of its failure, and explanations are printed
// before the summary, so that the summary is always the last line.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    report: { type: "string", default: "vitest-report.json" },
    "test-exit-code": { type: "string", default: "0" },
    "failed-checks": { type: "string", default: "0" },
  },
});

const testExitCode = Number.parseInt(values["test-exit-code"], 10) || 0;
const failedChecks = Number.parseInt(values["failed-checks"], 10) || 0;

let passed = 0;
let failed = failedChecks;
let report;
try {
  report = JSON.parse(readFileSync(values.report, "utf8"));
} catch (err) {
  console.log(`No usable test report at ${values.report} (${err.code ?? err.message}): the tests did not run.`);
  failed += 1;
}

if (report) {
  passed = report.numPassedTests ?? 0;
  let fromReport = report.numFailedTests ?? 0;
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === "failed");
    for (const test of failedTests) {
      const message = (test.failureMessages ?? []).join("\n").split("\n").slice(0, 6).join("\n    ");
      console.log(`FAILED ${relative(process.cwd(), file.name)} > ${test.fullName}\n    ${message || "(no message)"}`);
    }
    if (file.status === "failed" && failedTests.length === 0) {
      console.log(`Test file failed without a failed test: ${file.name}\n  ${file.message || "(no message)"}`);
      fromReport += 1;
    }
  }
  if (fromReport === 0 && (testExitCode !== 0 || report.success === false)) {
    console.log(
      `The test command exited with status ${testExitCode} although no test failed: ` +
        "see the errors above (global setup, unhandled errors).",
    );
    fromReport = 1;
  }
  failed += fromReport;
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
