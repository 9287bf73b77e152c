import type { Revision } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { expectPositionals, integer, parseCommand } from "../args.js";
import type { Control } from "../client.js";
import type { Command } from "../context.js";
import { CliError } from "../errors.js";
import { enumName, fields, jsonLine, line, shortTime, table } from "../output.js";
import {
  CONDITION_HEADERS,
  conditionRow,
  DEPLOYMENT_HEADERS,
  deploymentJson,
  deploymentRow,
  deploymentStatus,
  REVISION_HEADERS,
  revisionJson,
  revisionRow,
  revisionStatus,
  sourceText,
} from "../views.js";

const PAGE = 1000;

/** Every item of a paginated list, page by page. */
async function listAll<T>(page: (offset: number, limit: number) => Promise<T[]>, max = Number.POSITIVE_INFINITY): Promise<T[]> {
  const all: T[] = [];
  for (;;) {
    const limit = Math.min(PAGE, max - all.length);
    const items = await page(all.length, limit);
    all.push(...items);
    if (items.length < limit || all.length >= max) return all;
  }
}

export const deploymentsListCommand: Command = {
  name: "deployments list",
  summary: "list the deployments",
  remote: true,
  usage: `Usage: langopen deployments list [--json]

Lists the deployments, newest first.

Options:
  --json  print them as a JSON array`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { json: { type: "boolean" } });
    expectPositionals(positionals, []);
    const control = ctx.control(values);
    const deployments = await listAll(
      async (offset, limit) =>
        (await control.call("list deployments", (o) => control.deployments.listDeployments({ offset, limit }, o))).deployments,
    );
    if (values.json) jsonLine(ctx.stdout, deployments.map(deploymentJson));
    else
      table(ctx.stdout, DEPLOYMENT_HEADERS, deployments.map(deploymentRow), "no deployments (create one with `langopen deploy`)");
    return 0;
  },
};

export const deploymentsGetCommand: Command = {
  name: "deployments get",
  summary: "show a deployment",
  remote: true,
  usage: `Usage: langopen deployments get NAME_OR_ID [--json]

Shows a deployment: status, URL, source, variables, secret names, revisions, and the
conditions its driver reports about its data plane (Ready, Progressing, Degraded).

Options:
  --json  print it as a JSON object`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { json: { type: "boolean" } });
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    const control = ctx.control(values);
    const d = (await control.call(`get deployment ${ref}`, (o) => control.deployments.getDeployment({ deployment: ref }, o)))
      .deployment;
    if (!d) throw new CliError(`the control plane returned no deployment for ${ref}`);
    if (values.json) {
      jsonLine(ctx.stdout, deploymentJson(d));
      return 0;
    }
    const current = d.currentRevisionId ? await getRevision(control, d.currentRevisionId) : undefined;
    const latest =
      d.latestRevisionId && d.latestRevisionId !== d.currentRevisionId
        ? await getRevision(control, d.latestRevisionId)
        : undefined;
    const revisionText = (r: Revision | undefined, id: string) =>
      r ? `#${r.number} ${r.revisionId} ${revisionStatus(r.status)}${r.statusMessage ? ` (${r.statusMessage})` : ""}` : id || "-";
    const env = Object.entries(d.env);
    fields(ctx.stdout, [
      ["name", d.name],
      ["id", d.deploymentId],
      ["status", `${deploymentStatus(d.status)}${d.statusMessage ? ` (${d.statusMessage})` : ""}`],
      ["url", d.url || "-"],
      ["source", sourceText(d.source)],
      ["config", d.source?.configPath || "langgraph.json"],
      ["current revision", revisionText(current, d.currentRevisionId)],
      ...(latest ? [["latest revision", revisionText(latest, d.latestRevisionId)] as const] : []),
      ["graphs", current?.graphIds.join(", ") || "-"],
      ["egress", current ? current.egress.join(", ") || "none declared" : "-"],
      ["sandbox", enumName(SandboxProfile, d.sandbox)],
      ["replicas", String(d.replicas)],
      ["env", env.length ? env.map(([k, v]) => `${k}=${v}`).join(" ") : "-"],
      ["secrets", d.secretNames.join(", ") || "-"],
      ["created", shortTime(d.createTime)],
      ["updated", shortTime(d.updateTime)],
    ]);
    if (d.conditions.length > 0) {
      line(ctx.stdout);
      const now = new Date();
      table(
        ctx.stdout,
        CONDITION_HEADERS,
        d.conditions.map((c) => conditionRow(c, now)),
        "",
      );
    }
    return 0;
  },
};

async function getRevision(control: Control, revisionId: string): Promise<Revision | undefined> {
  return (await control.call(`get revision ${revisionId}`, (o) => control.deployments.getRevision({ revisionId }, o))).revision;
}

export const deploymentsDeleteCommand: Command = {
  name: "deployments delete",
  summary: "delete a deployment (its data plane stops and its database is dropped)",
  remote: true,
  usage: `Usage: langopen deployments delete NAME_OR_ID

Deletes a deployment: its data plane stops and its database (threads, runs, store) is dropped.`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {});
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    const control = ctx.control(values);
    await control.call(`delete deployment ${ref}`, (o) => control.deployments.deleteDeployment({ deployment: ref }, o));
    line(ctx.stdout, `deleted deployment ${ref}`);
    return 0;
  },
};

export const revisionsListCommand: Command = {
  name: "revisions list",
  summary: "list a deployment's revisions",
  remote: true,
  usage: `Usage: langopen revisions list NAME_OR_ID [--limit N] [--json]

Lists a deployment's revisions, newest first.

Options:
  --limit N  at most N revisions (default: all)
  --json     print them as a JSON array`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { json: { type: "boolean" }, limit: { type: "string" } });
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    const max = integer(values.limit, "limit", 1);
    const control = ctx.control(values);
    const revisions = await listAll(
      async (offset, limit) =>
        (
          await control.call(`list the revisions of ${ref}`, (o) =>
            control.deployments.listRevisions({ deployment: ref, offset, limit }, o),
          )
        ).revisions,
      max,
    );
    if (values.json) {
      jsonLine(ctx.stdout, revisions.map(revisionJson));
      return 0;
    }
    const numbers = new Map(revisions.map((r) => [r.revisionId, r.number]));
    table(
      ctx.stdout,
      REVISION_HEADERS,
      revisions.map((r) => revisionRow(r, (id) => numbers.get(id))),
      `no revisions of ${ref}`,
    );
    return 0;
  },
};
