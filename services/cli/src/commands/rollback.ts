import { expectPositionals, integer, parseCommand } from "../args.js";
import type { Command } from "../context.js";
import { CliError } from "../errors.js";
import { line } from "../output.js";
import { finishRevision } from "../report.js";

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "bring back an earlier revision's bundle (no build) and wait until it serves",
  remote: true,
  usage: `Usage: langopen rollback NAME_OR_ID [--revision ID] [--json] [--no-wait] [--timeout SECONDS]

Deploys the bundle of an earlier revision again, as a new revision, without building.

Options:
  --revision ID      the revision to bring back (default: the one deployed before the current one)
  --json             print the outcome as one JSON object (the last line of stdout)
  --no-wait          return once the revision is made
  --timeout SECONDS  how long to wait (default: 900)`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      revision: { type: "string" },
      json: { type: "boolean" },
      "no-wait": { type: "boolean" },
      timeout: { type: "string" },
    });
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    const timeoutSeconds = integer(values.timeout, "timeout", 1);
    const control = ctx.control(values);
    const revision = (
      await control.call(`roll back ${ref}`, (o) =>
        control.deployments.rollback({ deployment: ref, revisionId: values.revision ?? "" }, o),
      )
    ).revision;
    if (!revision) throw new CliError(`the control plane made no revision of ${ref}`);
    line(ctx.stderr, `rolling ${ref} back: revision #${revision.number} redeploys ${revision.redeployOf || "an earlier bundle"}`);
    return finishRevision(ctx, {
      control,
      name: ref,
      revision,
      wait: !values["no-wait"],
      timeoutSeconds,
      json: values.json === true,
      buildLog: false,
    });
  },
};
