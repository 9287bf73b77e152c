import { once } from "node:events";
import { LogKind } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { expectPositionals, parseCommand } from "../args.js";
import { asCallFailed } from "../client.js";
import type { Command } from "../context.js";
import { UsageError } from "../errors.js";

export const logsCommand: Command = {
  name: "logs",
  summary: "print a deployment's runtime log, or a revision's build log",
  remote: true,
  usage: `Usage: langopen logs NAME_OR_ID [--runtime | --build [--revision ID]] [--follow]

Prints a deployment's log on stdout.

Options:
  --runtime      the output of its data plane (the default)
  --build        a revision's build log
  --revision ID  with --build: that revision (default: the latest)
  --follow, -f   keep printing new lines as they come (stop with Ctrl-C)`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      build: { type: "boolean" },
      runtime: { type: "boolean" },
      revision: { type: "string" },
      follow: { type: "boolean", short: "f" },
    });
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    if (values.build && values.runtime) throw new UsageError("--build and --runtime exclude each other");
    if (values.revision !== undefined && !values.build) throw new UsageError("--revision goes with --build");
    const control = ctx.control(values);
    const kind = values.build ? LogKind.BUILD : LogKind.RUNTIME;
    try {
      const stream = control.deployments.streamLogs({
        deployment: ref,
        kind,
        revisionId: values.revision ?? "",
        follow: values.follow === true,
      });
      for await (const res of stream) {
        if (res.lines.length === 0) continue;
        // A slow reader (a pager) holds the stream back rather than filling memory.
        if (!ctx.stdout.write(`${res.lines.join("\n")}\n`)) await once(ctx.stdout, "drain");
      }
    } catch (err) {
      throw asCallFailed(`read the ${values.build ? "build" : "runtime"} log of ${ref}`, err, control.url);
    }
    return 0;
  },
};
