import { Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { choice, expectPositionals, parseCommand, required } from "../args.js";
import type { Command } from "../context.js";
import { CliError } from "../errors.js";
import { jsonLine, line, table } from "../output.js";
import { apiKeyJson, KEY_HEADERS, keyRow, roleName } from "../views.js";

const ROLES = { admin: Role.ADMIN, developer: Role.DEVELOPER, viewer: Role.VIEWER } as const;

export const keysCreateCommand: Command = {
  name: "keys create",
  summary: "create an API key (shown once)",
  remote: true,
  usage: `Usage: langopen keys create --name NAME --role admin|developer|viewer [--deployment NAME_OR_ID] [--json]

Creates an API key and shows it once: only its hash is kept.

Roles:
  admin      everything, including keys and the audit log
  developer  deployments, revisions, secrets, and the LangGraph API of the deployments in scope
  viewer     reads only

Options:
  --name NAME               what the key is for (shown in the audit log)
  --role ROLE               admin, developer or viewer
  --deployment NAME_OR_ID   limit the key to one deployment (default: every deployment)
  --json                    print {key_id, key, name, role, deployment_id} as JSON`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      name: { type: "string" },
      role: { type: "string" },
      deployment: { type: "string" },
      json: { type: "boolean" },
    });
    expectPositionals(positionals, []);
    const name = required(values.name, "name");
    const role = required(choice(values.role, "role", ["admin", "developer", "viewer"]), "role");
    const control = ctx.control(values);
    const res = await control.call(`create API key ${name}`, (o) =>
      control.apiKeys.createApiKey({ name, role: ROLES[role], deployment: values.deployment ?? "" }, o),
    );
    const key = res.apiKey;
    if (!key || !res.key) throw new CliError("the control plane returned no key");
    if (values.json) {
      jsonLine(ctx.stdout, {
        key_id: key.keyId,
        key: res.key,
        name: key.name,
        role: roleName(key.role),
        deployment_id: key.deploymentId,
      });
      return 0;
    }
    line(
      ctx.stdout,
      `created API key ${key.keyId} "${key.name}": role ${roleName(key.role)}, ${key.deploymentId ? `deployment ${key.deploymentId}` : "every deployment"}`,
    );
    line(ctx.stdout);
    line(ctx.stdout, `  ${res.key}`);
    line(ctx.stdout);
    line(ctx.stdout, "Store it now: it will not be shown again (only its hash is kept).");
    return 0;
  },
};

export const keysListCommand: Command = {
  name: "keys list",
  summary: "list the API keys (never the keys themselves)",
  remote: true,
  usage: `Usage: langopen keys list [--all] [--json]

Lists the API keys: ids, names, roles, scopes, prefixes (never the keys themselves).

Options:
  --all   include revoked keys
  --json  print them as a JSON array`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { all: { type: "boolean" }, json: { type: "boolean" } });
    expectPositionals(positionals, []);
    const control = ctx.control(values);
    const keys = (
      await control.call("list API keys", (o) => control.apiKeys.listApiKeys({ includeRevoked: values.all === true }, o))
    ).apiKeys;
    if (values.json) jsonLine(ctx.stdout, keys.map(apiKeyJson));
    else table(ctx.stdout, KEY_HEADERS, keys.map(keyRow), "no API keys");
    return 0;
  },
};

export const keysRevokeCommand: Command = {
  name: "keys revoke",
  summary: "revoke an API key",
  remote: true,
  usage: `Usage: langopen keys revoke KEY_ID

Revokes an API key: calls made with it fail from now on (data planes may accept it for the
few seconds they cache answers).`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {});
    const [keyId] = expectPositionals(positionals, ["KEY_ID"]) as [string];
    const control = ctx.control(values);
    const key = (await control.call(`revoke API key ${keyId}`, (o) => control.apiKeys.revokeApiKey({ keyId }, o))).apiKey;
    line(ctx.stdout, `revoked API key ${keyId}${key?.name ? ` "${key.name}"` : ""}`);
    return 0;
  },
};
