import { expectPositionals, keyValue, parseCommand } from "../args.js";
import type { Command, CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { jsonLine, line, table } from "../output.js";
import { SECRET_HEADERS, secretJson, secretRow } from "../views.js";

/** A secret's value read from stdin may not be larger. */
const MAX_STDIN_BYTES = 1024 * 1024;

export const secretsSetCommand: Command = {
  name: "secrets set",
  summary: "set a deployment's secret (redeploys it)",
  remote: true,
  usage: `Usage: langopen secrets set NAME_OR_ID KEY=VALUE
       langopen secrets set NAME_OR_ID KEY < file

Sets a secret of a deployment, given to its graphs as an environment variable; the current
revision is redeployed with it. With only KEY, the value is read from stdin (one trailing newline
dropped), so that it appears neither in the shell's history nor in the process list:

  printf %s "$OPENAI_API_KEY" | langopen secrets set my-agent OPENAI_API_KEY`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {});
    const [ref, assignment] = expectPositionals(positionals, ["NAME_OR_ID", "KEY=VALUE"]) as [string, string];
    let key: string;
    let value: string | undefined;
    if (assignment.includes("=")) {
      [key, value] = keyValue(assignment, "the secret", {
        allowEmpty: false,
        emptyHint: "give a value, or only KEY to read the value from stdin",
      });
    } else {
      key = assignment;
      if (ctx.stdin.isTTY)
        throw new UsageError(`no value for ${key}: give KEY=VALUE, or pipe the value in (stdin is a terminal)`);
    }
    const control = ctx.control(values);
    value ??= await readValue(ctx, key);
    const secret = (
      await control.call(`set secret ${key} of ${ref}`, (o) =>
        control.secrets.setSecret({ deployment: ref, name: key, value }, o),
      )
    ).secret;
    line(
      ctx.stdout,
      `set secret ${key} of ${ref}${secret?.maskedValue ? ` (${secret.maskedValue})` : ""}; the current revision is redeployed with it`,
    );
    return 0;
  },
};

async function readValue(ctx: CommandContext, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.stdin) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError(`the value of ${key} on stdin is larger than ${MAX_STDIN_BYTES} bytes`);
    chunks.push(buffer);
  }
  const value = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (value === "") throw new UsageError(`no value for ${key} on stdin`);
  return value;
}

export const secretsListCommand: Command = {
  name: "secrets list",
  summary: "list a deployment's secrets (masked)",
  remote: true,
  usage: `Usage: langopen secrets list NAME_OR_ID [--json]

Lists a deployment's secrets; values are masked.

Options:
  --json  print them as a JSON array`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { json: { type: "boolean" } });
    const [ref] = expectPositionals(positionals, ["NAME_OR_ID"]) as [string];
    const control = ctx.control(values);
    const secrets = (await control.call(`list the secrets of ${ref}`, (o) => control.secrets.listSecrets({ deployment: ref }, o)))
      .secrets;
    if (values.json) jsonLine(ctx.stdout, secrets.map(secretJson));
    else table(ctx.stdout, SECRET_HEADERS, secrets.map(secretRow), `no secrets in ${ref}`);
    return 0;
  },
};

export const secretsUnsetCommand: Command = {
  name: "secrets unset",
  summary: "remove a deployment's secret (redeploys it)",
  remote: true,
  usage: `Usage: langopen secrets unset NAME_OR_ID KEY

Removes a secret of a deployment; the current revision is redeployed without it.`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {});
    const [ref, key] = expectPositionals(positionals, ["NAME_OR_ID", "KEY"]) as [string, string];
    const control = ctx.control(values);
    await control.call(`unset secret ${key} of ${ref}`, (o) => control.secrets.unsetSecret({ deployment: ref, name: key }, o));
    line(ctx.stdout, `unset secret ${key} of ${ref}; the current revision is redeployed without it`);
    return 0;
  },
};
