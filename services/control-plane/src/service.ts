import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, createContextKey, type HandlerContext } from "@connectrpc/connect";
import { MAX_TARBALL_BYTES, SBOM_PATH } from "@langopen/builder";
import {
  alreadyExists,
  type BundleDigest,
  bundleFileName,
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
  type PoolClient,
  peerAddressKey,
  Reason,
  readBundleEntry,
  signatureFileOf,
} from "@langopen/common";
import type { ApiKeySchema } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { type ApiKey, Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import type { DeploymentSchema, RevisionSchema } from "@langopen/gen/langopen/control/v1/deployment_pb";
import {
  type Deployment,
  DeploymentStatus,
  type Resources,
  type Revision,
  RevisionStatus,
  SandboxProfile,
  type Source,
} from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService, LogKind } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { hashApiKey, mayGrant, newApiKey, type Permission, roleMay } from "./keys.js";
import type { LogSource } from "./logs.js";
import { isJwt, type PlatformOidc } from "./oidc.js";
import { maskSecret, type SecretBox } from "./secrets.js";
import type {
  ApiKeyRow,
  ControlStore,
  DeploymentRow,
  ResourcesRow,
  RevisionRow,
  RoleName,
  SandboxName,
  SourceRow,
} from "./store.js";

/** Who calls: the key it presented, or the user an OIDC token stands for. */
export interface Caller {
  /** What the audit log records as the actor: the key's id, or the token's subject. */
  actor: string;
  /** The key's name, or the user's name and e-mail address. */
  name: string;
  /** How refusals name the caller: `key "ci"` or `user "Ada <ada@example.com>"`. */
  label: string;
  role: RoleName;
  /** Null: every deployment. */
  deploymentId: string | null;
  address: string;
}

export interface ControlServiceOptions {
  store: ControlStore;
  secrets: SecretBox;
  logs: LogSource;
  logger: Logger;
  /** Called after a change the pipeline should act on at once (a new revision, a delete). */
  wake: () => void;
  /** Sandbox of deployments that do not choose one. */
  defaultSandbox: SandboxName;
  /** How long a data plane may cache a VerifyApiKey answer. */
  verifyCacheSeconds: number;
  /** Where the builder writes bundles (GetBundle reads them there). */
  bundleDir: string;
  /** An OpenID Connect provider whose tokens (a JWT as the bearer) are accepted beside API keys. */
  oidc?: PlatformOidc;
}

/** The largest SBOM a revision may answer (a project's lock file has thousands of packages at most). */
const MAX_SBOM_BYTES = 16 * 1024 * 1024;

/** The size of GetBundle's chunks (well under any message limit). */
const BUNDLE_CHUNK_BYTES = 256 * 1024;

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Variables the data plane sets itself: a deployment may not override them (upstream keeps a similar list). */
const RESERVED_ENV =
  /^(LANGOPEN_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|POSTGRES_|REDIS_|WORKER_|RPC_|METRICS_|NODE_OPTIONS$|PATH$|HOME$)/;
const MAX_VALUE = 64 * 1024;

/** The credential a call carries: `authorization: Bearer <key or token>`, else `x-api-key`. */
export function credentialOf(header: (name: string) => string | null | undefined): string | undefined {
  const authorization = header("authorization");
  const match = authorization ? /^Bearer +(\S+) *$/i.exec(authorization) : null;
  return match?.[1] ?? header("x-api-key") ?? undefined;
}

/** Who a credential is, or a ConnectError: Unauthenticated (none, unknown, revoked, a refused token). */
export type Authenticator = (credential: string | undefined, address: string) => Promise<Caller>;

/**
 * A caller the server checked before the call's body was read (the portal's port does, so that
 * an unauthenticated client cannot make it hold an upload): the call does not check again.
 */
export const authenticatedCallerKey = createContextKey<Caller | undefined>(undefined, {
  description: "langopen control-plane caller",
});

/** Checks credentials against the platform's API keys and, when configured, its OIDC provider's tokens. */
export function createAuthenticator(options: Pick<ControlServiceOptions, "store" | "oidc">): Authenticator {
  return async (key, address) => {
    if (!key)
      throw new ConnectError(
        "This call needs an API key: send `authorization: Bearer <key>` (LANGOPEN_API_KEY for the CLI)",
        Code.Unauthenticated,
      );
    if (options.oidc && isJwt(key)) {
      // A user of the provider acts on every deployment: a token carries no deployment scope.
      const user = await options.oidc.identify(key);
      return {
        actor: user.subject,
        name: user.displayName,
        label: `user "${user.displayName}"`,
        role: user.role,
        deploymentId: null,
        address,
      };
    }
    const row = await options.store.findApiKey(hashApiKey(key));
    if (!row) throw new ConnectError("The API key is not valid (unknown or revoked)", Code.Unauthenticated);
    return {
      actor: row.key_id,
      name: row.name,
      label: `key "${row.name}"`,
      role: row.role,
      deploymentId: row.deployment_id,
      address,
    };
  };
}

/**
 * The largest call the control plane reads, on either port: a deployment's upload as large as it
 * takes (MAX_TARBALL_BYTES, which the services check), with a megabyte for the rest of the message
 * (settings, variables, secrets).
 */
export const CONTROL_READ_MAX_BYTES = MAX_TARBALL_BYTES + 1024 * 1024;

/**
 * The calls of the four services that carry no credential of their caller: a data plane asking
 * whether its client's key is valid (the key is in the message). Paths, as `/package.Service/Method`.
 */
export const CALLS_WITHOUT_CREDENTIAL: ReadonlySet<string> = new Set([
  `/${ApiKeyService.typeName}/${ApiKeyService.method.verifyApiKey.name}`,
]);

/**
 * Who a call's credential is, checked from its headers before its body is read (both ports do,
 * so that only a caller the platform knows may make it hold a body): a refusal is the ConnectError
 * to answer; a key store that does not answer (the platform's Postgres) is UNAVAILABLE, logged.
 */
export async function callerOnHeaders(
  authenticate: Authenticator,
  credential: string | undefined,
  address: string,
  logger: Logger,
): Promise<Caller> {
  try {
    return await authenticate(credential, address);
  } catch (err) {
    if (err instanceof ConnectError) throw err;
    logger.error({ err }, "Could not check a call's credential");
    throw new ConnectError("The platform's database is unavailable: try again shortly", Code.Unavailable);
  }
}

const pageOf = (limit: number, offset: number, max = 1000, fallback = 100) => {
  if (limit < 0 || limit > max) throw invalidArgument(`limit must be between 0 and ${max}`);
  if (offset < 0) throw invalidArgument("offset must not be negative");
  return { limit: limit || fallback, offset };
};

const ts = (date: Date | null | undefined) => (date ? timestampFromDate(date) : undefined);

export function sourceMessage(
  source: SourceRow,
): MessageInitShape<typeof import("@langopen/gen/langopen/control/v1/deployment_pb").SourceSchema> {
  return {
    configPath: source.config_path,
    kind: source.git
      ? { case: "git", value: { url: source.git.url, ref: source.git.ref } }
      : { case: "tarball", value: { size: BigInt(source.tarball?.size ?? 0) } },
  };
}

export function deploymentMessage(row: DeploymentRow): MessageInitShape<typeof DeploymentSchema> {
  return {
    deploymentId: row.deployment_id,
    name: row.name,
    source: sourceMessage(row.source),
    env: row.env,
    secretNames: row.secret_names,
    resources: {
      runtimeProcesses: row.resources.runtime_processes ?? 0,
      workerConcurrency: row.resources.worker_concurrency ?? 0,
      runtimeMemoryMb: row.resources.runtime_memory_mb ?? 0,
    },
    replicas: row.replicas,
    sandbox: SandboxProfile[row.sandbox],
    status: DeploymentStatus[row.status],
    statusMessage: row.status_message,
    currentRevisionId: row.current_revision_id ?? "",
    latestRevisionId: row.latest_revision_id ?? "",
    url: row.url,
    createTime: ts(row.create_time),
    updateTime: ts(row.update_time),
    conditions: (row.conditions ?? []).map((c) => {
      const time = new Date(c.last_transition_time);
      return {
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: Number.isNaN(time.getTime()) ? undefined : timestampFromDate(time),
      };
    }),
  };
}

export function revisionMessage(row: RevisionRow): MessageInitShape<typeof RevisionSchema> {
  return {
    revisionId: row.revision_id,
    deploymentId: row.deployment_id,
    number: row.number,
    status: RevisionStatus[row.status],
    statusMessage: row.status_message,
    source: sourceMessage(row.source),
    commitSha: row.commit_sha,
    bundleDigest: row.bundle_digest,
    redeployOf: row.redeploy_of ?? "",
    graphIds: row.graph_ids,
    egress: row.egress,
    defects: row.defects,
    createTime: ts(row.create_time),
    deployTime: ts(row.deploy_time),
  };
}

function keyMessage(row: ApiKeyRow): MessageInitShape<typeof ApiKeySchema> {
  return {
    keyId: row.key_id,
    name: row.name,
    role: Role[row.role],
    deploymentId: row.deployment_id ?? "",
    prefix: row.prefix,
    createdBy: row.created_by,
    createTime: ts(row.create_time),
    revokeTime: ts(row.revoke_time),
    lastUsedTime: ts(row.last_used_time),
  };
}

function checkEnv(env: Record<string, string>, what: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw invalidArgument(`${what} name ${JSON.stringify(name)} is not a valid variable name`);
    if (RESERVED_ENV.test(name)) throw invalidArgument(`${what} ${name} is set by the platform and cannot be given`);
    if (value.length > MAX_VALUE) throw invalidArgument(`${what} ${name} is longer than ${MAX_VALUE} characters`);
  }
}

function checkGitUrl(url: string): void {
  if (url === "" || url.startsWith("-") || /\s/.test(url))
    throw invalidArgument(`source.git.url ${JSON.stringify(url)} is not a repository URL`);
}

function checkRef(ref: string): void {
  if (ref.startsWith("-") || /[\s~^:?*[\\]|\.\.|@\{/.test(ref))
    throw invalidArgument(`ref ${JSON.stringify(ref)} is not a valid git ref`);
}

function checkConfigPath(configPath: string): string {
  const p = configPath || "langgraph.json";
  if (p.startsWith("/") || p.split(/[\\/]/).includes(".."))
    throw invalidArgument(`config_path ${JSON.stringify(configPath)} must stay inside the source`);
  return p;
}

const sandboxName = (profile: SandboxProfile, fallback: SandboxName): SandboxName =>
  profile === SandboxProfile.UNSPECIFIED ? fallback : (SandboxProfile[profile] as SandboxName);

function resourcesRow(r: Resources | undefined): ResourcesRow {
  if (!r) return {};
  for (const [name, value, max] of [
    ["runtime_processes", r.runtimeProcesses, 64],
    ["worker_concurrency", r.workerConcurrency, 1000],
    ["runtime_memory_mb", r.runtimeMemoryMb, 1_048_576],
  ] as const) {
    if (value < 0 || value > max) throw invalidArgument(`resources.${name} must be between 0 and ${max}`);
  }
  return {
    ...(r.runtimeProcesses ? { runtime_processes: r.runtimeProcesses } : {}),
    ...(r.workerConcurrency ? { worker_concurrency: r.workerConcurrency } : {}),
    ...(r.runtimeMemoryMb ? { runtime_memory_mb: r.runtimeMemoryMb } : {}),
  };
}

/** Registers the control plane's four services on a router. */
export function registerControlServices(router: ConnectRouter, options: ControlServiceOptions): void {
  const { store, logger } = options;

  const authenticateCredential = createAuthenticator(options);
  const authenticate = async (ctx: HandlerContext): Promise<Caller> =>
    ctx.values.get(authenticatedCallerKey) ??
    authenticateCredential(
      credentialOf((name) => ctx.requestHeader.get(name)),
      ctx.values.get(peerAddressKey) ?? "in-process",
    );

  /** The caller may do `permission` (to `deployment`, when given); a refusal is audited. */
  async function authorize(
    ctx: HandlerContext,
    permission: Permission,
    action: string,
    deploymentId?: string | null,
  ): Promise<Caller> {
    const caller = await authenticate(ctx);
    const inScope = caller.deploymentId === null || (deploymentId != null && deploymentId === caller.deploymentId);
    if (roleMay(caller.role, permission) && inScope) return caller;
    await store.audit({
      actor: caller.actor,
      actorName: caller.name,
      action,
      deploymentId: deploymentId ?? null,
      sourceAddress: caller.address,
      allowed: false,
      details: { permission },
    });
    throw new ConnectError(
      inScope
        ? `The ${caller.label} (${caller.role.toLowerCase()}) may not do ${action}`
        : `The ${caller.label} is scoped to another deployment`,
      Code.PermissionDenied,
    );
  }

  const audit = (caller: Caller, action: string, deploymentId: string | null, target: string, details: JsonObject = {}) => ({
    actor: caller.actor,
    actorName: caller.name,
    action,
    deploymentId,
    target,
    sourceAddress: caller.address,
    details,
    allowed: true,
  });

  /** A deployment by id or name that the caller may see; NOT_FOUND otherwise (a scoped key sees only its own). */
  async function deploymentFor(ctx: HandlerContext, idOrName: string, permission: Permission, action: string) {
    if (!idOrName) throw invalidArgument("deployment (an id or a name) is required");
    const caller = await authenticate(ctx);
    const row = await store.getDeployment(idOrName);
    if (!row || (caller.deploymentId !== null && caller.deploymentId !== row.deployment_id))
      throw notFound("deployment", idOrName);
    return { caller: await authorize(ctx, permission, action, row.deployment_id), row };
  }

  const mustGet = async (id: string) => {
    const row = await store.getDeployment(id);
    if (!row) throw notFound("deployment", id);
    return row;
  };

  router.service(DeploymentService, {
    async createDeployment(req, ctx) {
      const caller = await authorize(ctx, "deployments.create", "deployment.create");
      if (caller.deploymentId !== null)
        throw new ConnectError("A key scoped to one deployment cannot create deployments", Code.PermissionDenied);
      if (!NAME.test(req.name))
        throw invalidArgument(
          "name must be 1-63 lower-case letters, digits and dashes, starting and ending with a letter or digit",
          [{ field: "name", description: "invalid" }],
        );
      const source = req.source;
      let sourceRow: SourceRow;
      if (source?.kind.case === "git") {
        checkGitUrl(source.kind.value.url);
        checkRef(source.kind.value.ref);
        sourceRow = {
          git: { url: source.kind.value.url, ref: source.kind.value.ref },
          config_path: checkConfigPath(source.configPath),
        };
      } else if (source?.kind.case === "tarball" || req.tarball.length > 0) {
        if (req.tarball.length === 0) throw invalidArgument("a tarball source needs the tarball");
        if (req.tarball.length > MAX_TARBALL_BYTES)
          throw invalidArgument(`the tarball is larger than ${MAX_TARBALL_BYTES} bytes`);
        sourceRow = { tarball: { size: req.tarball.length }, config_path: checkConfigPath(source?.configPath ?? "") };
      } else {
        throw invalidArgument("source (a git URL, or a tarball) is required", [{ field: "source", description: "missing" }]);
      }
      checkEnv(req.env, "variable");
      const secretNames = new Set<string>();
      for (const s of req.secrets) {
        checkEnv({ [s.name]: s.value }, "secret");
        if (secretNames.has(s.name)) throw invalidArgument(`secret ${s.name} is given twice`);
        if (s.name in req.env) throw invalidArgument(`${s.name} is both a variable and a secret`);
        secretNames.add(s.name);
      }
      if (req.replicas < 0 || req.replicas > 100) throw invalidArgument("replicas must be between 0 and 100");
      const resources = resourcesRow(req.resources);
      const sandbox = sandboxName(req.sandbox, options.defaultSandbox);
      const result = await store.transaction(async (client) => {
        const row = await store.createDeployment(
          { name: req.name, source: sourceRow, env: req.env, resources, replicas: req.replicas || 1, sandbox },
          client,
        );
        if (!row) throw alreadyExists("deployment", req.name);
        for (const s of req.secrets) {
          await store.putSecret(
            row.deployment_id,
            s.name,
            options.secrets.seal(s.value, row.deployment_id, s.name),
            maskSecret(s.value),
            client,
          );
        }
        const revision = await store.createRevision(
          row.deployment_id,
          { status: "AWAITING_BUILD", source: sourceRow, tarball: req.tarball.length > 0 ? Buffer.from(req.tarball) : undefined },
          client,
        );
        await store.audit(
          audit(caller, "deployment.create", row.deployment_id, row.name, {
            source: sourceRow as unknown as JsonObject,
            env: Object.keys(req.env),
            secrets: [...secretNames],
            sandbox,
            revision_id: revision.revision_id,
          }),
          client,
        );
        return { revision, deployment: await store.getDeployment(row.deployment_id, client) };
      });
      options.wake();
      logger.info({ deployment: req.name, revision_id: result.revision.revision_id }, "Created deployment");
      return { deployment: deploymentMessage(result.deployment as DeploymentRow), revision: revisionMessage(result.revision) };
    },

    async getDeployment(req, ctx) {
      const { row } = await deploymentFor(ctx, req.deployment, "deployments.read", "deployment.get");
      return { deployment: deploymentMessage(row) };
    },

    async listDeployments(req, ctx) {
      const caller = await authorize(ctx, "deployments.read", "deployment.list");
      const page = pageOf(req.limit, req.offset);
      const rows = await store.listDeployments(req.nameContains, page.limit, page.offset);
      return {
        deployments: rows
          .filter((r) => caller.deploymentId === null || r.deployment_id === caller.deploymentId)
          .map(deploymentMessage),
      };
    },

    async updateDeployment(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "deployments.write", "deployment.update");
      const source: SourceRow = structuredClone(row.source);
      let rebuild = false;
      if (req.ref !== undefined) {
        if (!source.git) throw failedPrecondition(Reason.SourceMismatch, "ref applies to git sources only");
        checkRef(req.ref);
        rebuild ||= req.ref !== source.git.ref;
        source.git.ref = req.ref;
      }
      if (req.configPath !== undefined) {
        const p = checkConfigPath(req.configPath);
        rebuild ||= p !== source.config_path;
        source.config_path = p;
      }
      if (req.tarball.length > 0) {
        if (!source.tarball) throw failedPrecondition(Reason.SourceMismatch, "a tarball applies to tarball sources only");
        if (req.tarball.length > MAX_TARBALL_BYTES)
          throw invalidArgument(`the tarball is larger than ${MAX_TARBALL_BYTES} bytes`);
        source.tarball = { size: req.tarball.length };
        rebuild = true;
      }
      if (req.setEnv) checkEnv(req.env, "variable");
      const resources = req.resources ? resourcesRow(req.resources) : undefined;
      const sandbox = req.sandbox === SandboxProfile.UNSPECIFIED ? undefined : sandboxName(req.sandbox, options.defaultSandbox);
      if (rebuild && source.tarball && req.tarball.length === 0)
        throw failedPrecondition(Reason.SourceMismatch, "rebuilding an uploaded source needs a new tarball");
      const revision = await store.transaction(async (client) => {
        await store.updateDeployment(
          row.deployment_id,
          { source, env: req.setEnv ? req.env : undefined, resources, sandbox },
          client,
        );
        const current = row.current_revision_id ? await store.getRevision(row.current_revision_id, client) : undefined;
        const rev =
          rebuild || !current
            ? await store.createRevision(
                row.deployment_id,
                { status: "AWAITING_BUILD", source, tarball: req.tarball.length > 0 ? Buffer.from(req.tarball) : undefined },
                client,
              )
            : await store.createRevision(
                row.deployment_id,
                { status: "AWAITING_DEPLOY", source: current.source, redeployOf: current, statusMessage: "settings changed" },
                client,
              );
        await store.audit(
          audit(caller, "deployment.update", row.deployment_id, row.name, {
            ...(req.ref !== undefined ? { ref: req.ref } : {}),
            ...(req.configPath !== undefined ? { config_path: req.configPath } : {}),
            ...(req.setEnv ? { env: Object.keys(req.env) } : {}),
            ...(resources ? { resources: resources as JsonObject } : {}),
            ...(sandbox ? { sandbox } : {}),
            revision_id: rev.revision_id,
          }),
          client,
        );
        return rev;
      });
      options.wake();
      return { deployment: deploymentMessage(await mustGet(row.deployment_id)), revision: revisionMessage(revision) };
    },

    async deleteDeployment(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "deployments.write", "deployment.delete");
      await store.transaction(async (client) => {
        await store.markDeleted(row.deployment_id, client);
        await store.audit(audit(caller, "deployment.delete", row.deployment_id, row.name), client);
      });
      options.wake();
      return {};
    },

    async createRevision(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "deployments.write", "revision.create");
      const source: SourceRow = structuredClone(row.source);
      if (source.git && req.ref) {
        checkRef(req.ref);
        source.git.ref = req.ref;
      }
      if (source.tarball) {
        if (req.tarball.length === 0)
          throw failedPrecondition(Reason.SourceMismatch, "rebuilding an uploaded source needs a new tarball");
        if (req.tarball.length > MAX_TARBALL_BYTES)
          throw invalidArgument(`the tarball is larger than ${MAX_TARBALL_BYTES} bytes`);
        source.tarball = { size: req.tarball.length };
      } else if (req.tarball.length > 0) {
        throw failedPrecondition(Reason.SourceMismatch, "a tarball applies to tarball sources only");
      }
      const revision = await store.transaction(async (client) => {
        if (source.git?.ref !== row.source.git?.ref) await store.updateDeployment(row.deployment_id, { source }, client);
        const rev = await store.createRevision(
          row.deployment_id,
          { status: "AWAITING_BUILD", source, tarball: req.tarball.length > 0 ? Buffer.from(req.tarball) : undefined },
          client,
        );
        await store.audit(
          audit(caller, "revision.create", row.deployment_id, rev.revision_id, { source: source as unknown as JsonObject }),
          client,
        );
        return rev;
      });
      options.wake();
      return { revision: revisionMessage(revision) };
    },

    async listRevisions(req, ctx) {
      const { row } = await deploymentFor(ctx, req.deployment, "deployments.read", "revision.list");
      const page = pageOf(req.limit, req.offset);
      return { revisions: (await store.listRevisions(row.deployment_id, page.limit, page.offset)).map(revisionMessage) };
    },

    async getRevision(req, ctx) {
      const caller = await authenticate(ctx);
      const rev = await store.getRevision(req.revisionId);
      if (!rev || (caller.deploymentId !== null && caller.deploymentId !== rev.deployment_id))
        throw notFound("revision", req.revisionId);
      await authorize(ctx, "deployments.read", "revision.get", rev.deployment_id);
      return { revision: revisionMessage(rev) };
    },

    async getRevisionSbom(req, ctx) {
      if (!req.revisionId) throw invalidArgument("revision_id is required");
      const caller = await authenticate(ctx);
      const rev = await store.getRevision(req.revisionId);
      if (!rev || (caller.deploymentId !== null && caller.deploymentId !== rev.deployment_id))
        throw notFound("revision", req.revisionId);
      await authorize(ctx, "deployments.read", "revision.sbom", rev.deployment_id);
      if (!rev.bundle_digest)
        throw failedPrecondition(Reason.RevisionNotBuilt, `revision ${rev.number} has no bundle (its status is ${rev.status})`);
      const file = path.join(options.bundleDir, bundleFileName(rev.bundle_digest as BundleDigest));
      const sbom = await readBundleEntry(file, SBOM_PATH, MAX_SBOM_BYTES).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
        throw failedPrecondition(
          Reason.RevisionNotBuilt,
          `the bundle of revision ${rev.number} (${rev.bundle_digest}) is missing from the platform's bundle store`,
        );
      });
      if (!sbom) throw new ConnectError(`the bundle of revision ${rev.number} carries no SBOM (${SBOM_PATH})`, Code.NotFound);
      return { sbomJson: sbom };
    },

    async *getBundle(req, ctx) {
      if (!req.revisionId) throw invalidArgument("revision_id is required");
      const caller = await authenticate(ctx);
      const rev = await store.getRevision(req.revisionId);
      if (!rev || (caller.deploymentId !== null && caller.deploymentId !== rev.deployment_id))
        throw notFound("revision", req.revisionId);
      await authorize(ctx, "deployments.read", "revision.bundle", rev.deployment_id);
      if (!rev.bundle_digest)
        throw failedPrecondition(Reason.RevisionNotBuilt, `revision ${rev.number} has no bundle (its status is ${rev.status})`);
      const file = path.join(options.bundleDir, bundleFileName(rev.bundle_digest as BundleDigest));
      const [signature, info] = await Promise.all([readFile(signatureFileOf(file), "utf8"), stat(file)]).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        throw failedPrecondition(
          Reason.RevisionNotBuilt,
          `the bundle of revision ${rev.number} (${rev.bundle_digest}) is missing from the platform's bundle store`,
        );
      });
      yield { part: { case: "header", value: { digest: rev.bundle_digest, signature, size: BigInt(info.size) } } };
      for await (const chunk of createReadStream(file, { highWaterMark: BUNDLE_CHUNK_BYTES, signal: ctx.signal })) {
        yield { part: { case: "chunk", value: chunk as Buffer } };
      }
    },

    async rollback(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "deployments.write", "revision.rollback");
      let target: RevisionRow | undefined;
      if (req.revisionId) {
        target = await store.getRevision(req.revisionId);
        if (!target || target.deployment_id !== row.deployment_id) throw notFound("revision", req.revisionId);
        if (!target.bundle_digest)
          throw failedPrecondition(
            Reason.RevisionNotBuilt,
            `revision ${target.number} has no bundle (its status is ${target.status}): nothing to roll back to`,
          );
      } else {
        target = await store.previousDeployed(row.deployment_id, row.current_revision_id);
        if (!target)
          throw failedPrecondition(
            Reason.RevisionNotBuilt,
            `deployment ${row.name} has no earlier deployed revision to roll back to`,
          );
      }
      const from = target;
      const revision = await store.transaction(async (client) => {
        const rev = await store.createRevision(
          row.deployment_id,
          {
            status: "AWAITING_DEPLOY",
            source: from.source,
            redeployOf: from,
            statusMessage: `rollback to revision ${from.number}`,
          },
          client,
        );
        await store.audit(
          audit(caller, "revision.rollback", row.deployment_id, rev.revision_id, {
            to_revision_id: from.revision_id,
            to_number: from.number,
            from_revision_id: row.current_revision_id ?? "",
          }),
          client,
        );
        return rev;
      });
      options.wake();
      return { revision: revisionMessage(revision) };
    },

    async *streamLogs(req, ctx) {
      const { row } = await deploymentFor(ctx, req.deployment, "deployments.read", "logs.read");
      if (req.kind === LogKind.BUILD) {
        let revisionId = req.revisionId;
        if (revisionId) {
          const rev = await store.getRevision(revisionId);
          if (!rev || rev.deployment_id !== row.deployment_id) throw notFound("revision", revisionId);
          // A redeploy has no build of its own: its bundle's build log is the one asked for.
          revisionId = rev.redeploy_of ?? rev.revision_id;
        } else {
          const [latest] = await store.listRevisions(row.deployment_id, 1, 0);
          if (!latest) throw notFound("revision", "latest");
          revisionId = latest.redeploy_of ?? latest.revision_id;
        }
        yield* options.logs.build(revisionId, req.follow, ctx.signal);
      } else {
        yield* options.logs.runtime(row.deployment_id, req.follow, ctx.signal);
      }
    },
  });

  router.service(ApiKeyService, {
    async createApiKey(req, ctx) {
      const caller = await authorize(ctx, "keys.write", "api_key.create");
      const role = req.role === Role.UNSPECIFIED ? undefined : (Role[req.role] as RoleName | undefined);
      if (!role) throw invalidArgument("role must be admin, developer or viewer", [{ field: "role", description: "missing" }]);
      if (!mayGrant(caller.role, role))
        throw new ConnectError(
          `The ${caller.label} (${caller.role.toLowerCase()}) cannot create ${role.toLowerCase()} keys`,
          Code.PermissionDenied,
        );
      const name = req.name.trim();
      if (name === "" || name.length > 100) throw invalidArgument("name must be 1-100 characters");
      let deploymentId: string | null = null;
      if (req.deployment) deploymentId = (await mustGet(req.deployment)).deployment_id;
      if (caller.deploymentId !== null && deploymentId !== caller.deploymentId)
        throw new ConnectError("A key scoped to one deployment can only create keys for it", Code.PermissionDenied);
      const fresh = newApiKey();
      const row = await store.transaction(async (client) => {
        const created = await store.insertApiKey(
          { name, role, deploymentId, prefix: fresh.prefix, sha256: fresh.sha256, createdBy: caller.actor },
          client,
        );
        await store.audit(audit(caller, "api_key.create", deploymentId, created.key_id, { name, role }), client);
        return created;
      });
      return { apiKey: keyMessage(row), key: fresh.key };
    },

    async listApiKeys(req, ctx) {
      const caller = await authorize(ctx, "keys.read", "api_key.list");
      return { apiKeys: (await store.listApiKeys(req.includeRevoked, caller.deploymentId ?? undefined)).map(keyMessage) };
    },

    async revokeApiKey(req, ctx) {
      const caller = await authorize(ctx, "keys.write", "api_key.revoke");
      const existing = await store.getApiKey(req.keyId);
      if (!existing || (caller.deploymentId !== null && existing.deployment_id !== caller.deploymentId))
        throw notFound("api key", req.keyId);
      const row = await store.transaction(async (client) => {
        const revoked = await store.revokeApiKey(existing.key_id, client);
        await store.audit(
          audit(caller, "api_key.revoke", existing.deployment_id, existing.key_id, { name: existing.name }),
          client,
        );
        return revoked as ApiKeyRow;
      });
      return { apiKey: keyMessage(row) as ApiKey };
    },

    async verifyApiKey(req) {
      // Asked by data planes for the keys their clients present: answers only whether the key may
      // call that deployment, never anything about other keys.
      if (!req.key || req.key.length > 512) return { valid: false, cacheSeconds: options.verifyCacheSeconds };
      const row = await store.findApiKey(hashApiKey(req.key));
      const valid = row !== undefined && (row.deployment_id === null || row.deployment_id === req.deploymentId);
      return valid
        ? { valid, keyId: row.key_id, name: row.name, role: Role[row.role], cacheSeconds: options.verifyCacheSeconds }
        : { valid: false, cacheSeconds: options.verifyCacheSeconds };
    },
  });

  router.service(SecretService, {
    async setSecret(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "secrets.write", "secret.set");
      checkEnv({ [req.name]: req.value }, "secret");
      if (req.name in row.env) throw invalidArgument(`${req.name} is a variable of the deployment; unset it there first`);
      const secret = await store.transaction(async (client) => {
        const saved = await store.putSecret(
          row.deployment_id,
          req.name,
          options.secrets.seal(req.value, row.deployment_id, req.name),
          maskSecret(req.value),
          client,
        );
        await redeployCurrent(row, client, `secret ${req.name} set`);
        await store.audit(audit(caller, "secret.set", row.deployment_id, req.name), client);
        return saved;
      });
      options.wake();
      return {
        secret: {
          deploymentId: secret.deployment_id,
          name: secret.name,
          maskedValue: secret.masked_value,
          updateTime: ts(secret.update_time),
        },
      };
    },

    async listSecrets(req, ctx) {
      const { row } = await deploymentFor(ctx, req.deployment, "secrets.read", "secret.list");
      return {
        secrets: (await store.listSecrets(row.deployment_id)).map((s) => ({
          deploymentId: s.deployment_id,
          name: s.name,
          maskedValue: s.masked_value,
          updateTime: ts(s.update_time),
        })),
      };
    },

    async unsetSecret(req, ctx) {
      const { caller, row } = await deploymentFor(ctx, req.deployment, "secrets.write", "secret.unset");
      await store.transaction(async (client) => {
        if (!(await store.deleteSecret(row.deployment_id, req.name, client))) throw notFound("secret", req.name);
        await redeployCurrent(row, client, `secret ${req.name} unset`);
        await store.audit(audit(caller, "secret.unset", row.deployment_id, req.name), client);
      });
      options.wake();
      return {};
    },
  });

  /** A change of secrets reaches the running code as a new revision of the same bundle. */
  async function redeployCurrent(row: DeploymentRow, client: PoolClient, why: string): Promise<void> {
    const current = row.current_revision_id ? await store.getRevision(row.current_revision_id, client) : undefined;
    if (current)
      await store.createRevision(
        row.deployment_id,
        { status: "AWAITING_DEPLOY", source: current.source, redeployOf: current, statusMessage: why },
        client,
      );
  }

  router.service(AuditService, {
    async listAuditEvents(req, ctx) {
      const caller = await authorize(ctx, "audit.read", "audit.list");
      let deploymentId: string | undefined;
      if (req.deployment) {
        const row = await store.getDeployment(req.deployment);
        // A deleted deployment's trail stays readable by its id.
        deploymentId = row?.deployment_id ?? (/^[0-9a-f-]{36}$/i.test(req.deployment) ? req.deployment : undefined);
        if (!deploymentId) throw notFound("deployment", req.deployment);
      }
      if (caller.deploymentId !== null) {
        if (deploymentId !== undefined && deploymentId !== caller.deploymentId) throw notFound("deployment", req.deployment);
        deploymentId = caller.deploymentId;
      }
      const page = pageOf(req.limit, req.offset);
      const rows = await store.listAudit({ deploymentId, actor: req.actor, action: req.action, ...page });
      return {
        events: rows.map((e) => ({
          eventId: e.event_id,
          time: ts(e.time),
          actor: e.actor,
          actorName: e.actor_name,
          action: e.action,
          deploymentId: e.deployment_id ?? "",
          target: e.target,
          sourceAddress: e.source_address,
          details: e.details as JsonObject,
          allowed: e.allowed,
        })),
      };
    },
  });
}

export type { Deployment, Revision, Source };
