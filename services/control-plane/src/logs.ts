import { open, stat } from "node:fs/promises";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@langopen/common";
import type { BuilderService } from "@langopen/gen/langopen/builder/v1/builder_service_pb";

/** Lines of logs, in batches, as StreamLogs sends them. */
export interface LogSource {
  build(revisionId: string, follow: boolean, signal: AbortSignal): AsyncIterable<{ lines: string[] }>;
  runtime(deploymentId: string, follow: boolean, signal: AbortSignal): AsyncIterable<{ lines: string[] }>;
}

const POLL_MS = 300;
const CHUNK = 64 * 1024;

/**
 * Build logs come from the builder (the revision's id is its build's id); runtime logs are the
 * file the driver writes each deployment's output to, read from its start and, with follow,
 * tailed until the caller goes away.
 */
export function logSource(builder: Client<typeof BuilderService>, runtimeLogFile: (deploymentId: string) => string): LogSource {
  return {
    async *build(revisionId, follow, signal) {
      try {
        for await (const res of builder.streamBuildLog({ buildId: revisionId, follow }, { signal })) {
          if (res.line) yield { lines: [res.line.text] };
        }
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) return; // not built yet, or built before logs were kept
        throw err;
      }
    },

    async *runtime(deploymentId, follow, signal) {
      const file = runtimeLogFile(deploymentId);
      let offset = 0;
      let rest = "";
      while (!signal.aborted) {
        const size = await stat(file).then(
          (s) => s.size,
          () => 0,
        );
        if (size < offset) offset = 0; // the file was started again
        while (size > offset) {
          const handle = await open(file, "r");
          try {
            const buffer = Buffer.alloc(Math.min(CHUNK, size - offset));
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
            offset += bytesRead;
            const text = rest + buffer.subarray(0, bytesRead).toString("utf8");
            const lines = text.split("\n");
            rest = lines.pop() ?? "";
            if (lines.length > 0) yield { lines };
          } finally {
            await handle.close();
          }
        }
        if (!follow) break;
        await sleep(POLL_MS, signal);
      }
      if (rest && !signal.aborted) yield { lines: [rest] };
    },
  };
}
