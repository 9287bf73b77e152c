import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Deployment, type Revision, SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { choice, integer, keyValues, parseCommand, required } from "../args.js";
import { isNotFound } from "../client.js";
import type { Command } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { line } from "../output.js";
import { packFolder } from "../pack.js";
import { finishRevision } from "../report.js";
import { sourceText } from "../views.js";

const SANDBOXES = {
  node: SandboxProfile.NODE,
  gvisor: SandboxProfile.GVISOR,
  none: SandboxProfile.NONE,
  kata: SandboxProfile.KATA,
} as const;

export const deployCommand: Command = {
  name: "deploy",
  summary: "deploy a git repository (a new deployment, or a new revision of it) and wait until it serves",
  remote: true,
  usage: `Usage: langopen deploy --name NAME (--git URL | --dir PATH) [options]

Creates the deployment NAME from a git repository holding a langgraph.json, or, when NAME exists
with the same repository, builds a new revision of it; then follows the build and prints
\`ready <url>\` once the revision serves. With --dir, the folder itself is uploaded instead (its
files but node_modules, .git and .langopen), for projects that are not in a reachable repository.

Options:
  --name NAME         the deployment (lower-case letters, digits and dashes)
  --git URL           the repository (a local folder becomes a file:// URL, which a control plane
                      on loopback accepts)
  --dir PATH          a project folder to upload (a deployment made from a folder takes new
                      uploads only)
  --ref REF           a branch, tag or commit (default: the repository's default branch, or the
                      deployment's ref)
  --config PATH       the langgraph.json inside the repository (default: langgraph.json)
  --env KEY=VALUE     a variable for the graphs; repeatable (on an existing deployment, the
                      variables given replace all of its variables)
  --secret KEY=VALUE  a secret for the graphs; repeatable (stored encrypted, never shown again)
  --sandbox PROFILE   node, gvisor, none or kata (Kubernetes only) (default: the platform's)
  --json              print the outcome as one JSON object (the last line of stdout)
  --no-wait           return once the revision is made
  --timeout SECONDS   how long to wait (default: 900)`,

  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      name: { type: "string" },
      git: { type: "string" },
      dir: { type: "string" },
      ref: { type: "string" },
      config: { type: "string" },
      env: { type: "string", multiple: true },
      secret: { type: "string", multiple: true },
      sandbox: { type: "string" },
      json: { type: "boolean" },
      "no-wait": { type: "boolean" },
      timeout: { type: "string" },
    });
    const name = required(values.name, "name");
    if ((values.git === undefined) === (values.dir === undefined))
      throw new UsageError(values.git === undefined ? "missing --git (or --dir)" : "give --git or --dir, not both");
    const sandboxName = choice(values.sandbox, "sandbox", ["node", "gvisor", "none", "kata"]);
    const timeoutSeconds = integer(values.timeout, "timeout", 1);
    const env = keyValues(values.env, "env", { allowEmpty: true });
    const secrets = keyValues(values.secret, "secret", {
      allowEmpty: false,
      emptyHint: "give a value, or set it later with `langopen secrets set`",
    });
    const url = values.git !== undefined ? gitUrl(values.git, ctx.cwd) : undefined;
    const upload = values.dir !== undefined ? await packFolder(path.resolve(ctx.cwd, values.dir)) : undefined;
    if (upload) line(ctx.stderr, `packed ${values.dir} (${upload.files} files, ${upload.data.length} bytes gzipped)`);
    const from = url ?? `the folder ${values.dir}`;
    const control = ctx.control(values);

    let existing: Deployment | undefined;
    try {
      existing = (await control.call(`get deployment ${name}`, (o) => control.deployments.getDeployment({ deployment: name }, o)))
        .deployment;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }

    let revision: Revision | undefined;
    if (!existing) {
      const res = await control.call(`create deployment ${name}`, (o) =>
        control.deployments.createDeployment(
          {
            name,
            source: {
              kind:
                url !== undefined
                  ? { case: "git", value: { url, ref: values.ref ?? "" } }
                  : { case: "tarball", value: { size: BigInt(upload?.data.length ?? 0) } },
              configPath: values.config ?? "",
            },
            tarball: upload?.data,
            env,
            secrets: Object.entries(secrets).map(([key, value]) => ({ name: key, value })),
            sandbox: sandboxName ? SANDBOXES[sandboxName] : SandboxProfile.UNSPECIFIED,
          },
          o,
        ),
      );
      existing = res.deployment;
      revision = res.revision;
      line(ctx.stderr, `created deployment ${name} (${existing?.deploymentId ?? "?"})`);
    } else {
      const source = existing.source?.kind;
      const same = url !== undefined ? source?.case === "git" && sameGitUrl(source.value.url, url) : source?.case === "tarball";
      if (!same)
        throw new CliError(
          `deployment ${name} already exists with source ${sourceText(existing.source)} (choose another --name)`,
        );
      const id = existing.deploymentId;
      // Secrets first: each redeploys the current revision, which the new build then replaces.
      for (const [key, value] of Object.entries(secrets)) {
        await control.call(`set secret ${key} of ${name}`, (o) =>
          control.secrets.setSecret({ deployment: id, name: key, value }, o),
        );
      }
      const settingsChanged = values.env !== undefined || values.config !== undefined || sandboxName !== undefined;
      if (settingsChanged) {
        const res = await control.call(`update deployment ${name}`, (o) =>
          control.deployments.updateDeployment(
            {
              deployment: id,
              ...(values.ref !== undefined && { ref: values.ref }),
              ...(values.config !== undefined && { configPath: values.config }),
              env,
              setEnv: values.env !== undefined,
              sandbox: sandboxName ? SANDBOXES[sandboxName] : SandboxProfile.UNSPECIFIED,
            },
            o,
          ),
        );
        // A change of source builds; other changes only redeploy the current bundle, and a
        // deploy builds the source again.
        if (res.revision && !res.revision.redeployOf) revision = res.revision;
      }
      if (!revision) {
        revision = (
          await control.call(`create a revision of ${name}`, (o) =>
            control.deployments.createRevision({ deployment: id, ref: values.ref ?? "", tarball: upload?.data }, o),
          )
        ).revision;
      }
      line(
        ctx.stderr,
        `building revision #${revision?.number ?? "?"} of ${name} from ${from}${values.ref ? `@${values.ref}` : ""}`,
      );
    }
    if (!revision) throw new CliError(`the control plane made no revision of ${name}`);
    return finishRevision(ctx, {
      control,
      name,
      revision,
      wait: !values["no-wait"],
      timeoutSeconds,
      json: values.json === true,
      buildLog: !revision.redeployOf,
    });
  },
};

/** A URL as given; a local folder (no scheme, not user@host:path) as its file:// URL. */
export function gitUrl(given: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given) || /^[^/\s]+@[^/\s]+:/.test(given)) return given;
  const folder = path.resolve(cwd, given);
  try {
    if (statSync(folder).isDirectory()) return pathToFileURL(folder).href;
  } catch {
    // Not a folder here: the control plane judges it.
  }
  return given;
}

function sameGitUrl(a: string, b: string): boolean {
  const norm = (u: string) => u.trim().replace(/\/+$/, "");
  return norm(a) === norm(b);
}
