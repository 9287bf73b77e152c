/**
 * Imported first by every service's main.ts: starts this process's traces when the OTEL_*
 * variables ask for them (see telemetry.ts), before the modules that the instrumentation patches
 * (pg) are loaded. The process is named after its entry point: `langopen-gateway`,
 * `langopen-api-server`, `langopen-worker`, `langopen-runtime`, and `langopen` for `npm start`
 * (whose in-process parts name themselves on their spans). OTEL_SERVICE_NAME overrides it.
 * The OTel SDK reads the standard variables itself; this module reads only whether to start it.
 */
import path from "node:path";
import { startTracing } from "./telemetry.js";

const SERVICE_NAMES: Record<string, string> = {
  gateway: "langopen-gateway",
  "api-server": "langopen-api-server",
  worker: "langopen-worker",
  "runtime-runner": "langopen-runtime",
  launcher: "langopen",
};

const entry = process.argv[1] ?? "";
const serviceDir = path.basename(path.dirname(path.dirname(entry)));

try {
  startTracing({ serviceName: SERVICE_NAMES[serviceDir] ?? "langopen", env: process.env });
} catch (err) {
  // A setting it cannot honour (an OTLP protocol it does not speak) stops the start, naming it.
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
