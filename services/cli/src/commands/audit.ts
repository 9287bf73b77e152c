import { expectPositionals, integer, parseCommand } from "../args.js";
import type { Command } from "../context.js";
import { jsonLine, table } from "../output.js";
import { AUDIT_HEADERS, auditEventJson, auditRow } from "../views.js";

const DEFAULT_LIMIT = 50;

export const auditCommand: Command = {
  name: "audit",
  summary: "show the audit log: who changed what, when, from where",
  remote: true,
  usage: `Usage: langopen audit [--deployment NAME_OR_ID] [--actor KEY_ID] [--action PREFIX] [--limit N] [--json]

Shows the changes made through the control plane, newest first, refused ones included.

Options:
  --deployment NAME_OR_ID  only those concerning a deployment
  --actor KEY_ID           only those made with a key ("system": by the platform itself)
  --action ACTION          an action ("secret.set"), or a prefix ending with "." ("deployment.")
  --limit N                at most N events (default: ${DEFAULT_LIMIT})
  --json                   print them as a JSON array`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      deployment: { type: "string" },
      actor: { type: "string" },
      action: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    expectPositionals(positionals, []);
    const limit = integer(values.limit, "limit", 1, 1000) ?? DEFAULT_LIMIT;
    const control = ctx.control(values);
    const events = (
      await control.call("list audit events", (o) =>
        control.audit.listAuditEvents(
          { deployment: values.deployment ?? "", actor: values.actor ?? "", action: values.action ?? "", limit },
          o,
        ),
      )
    ).events;
    if (values.json) jsonLine(ctx.stdout, events.map(auditEventJson));
    else table(ctx.stdout, AUDIT_HEADERS, events.map(auditRow), "no audit events");
    return 0;
  },
};
