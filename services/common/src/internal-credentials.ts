import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextKey, type Interceptor } from "@connectrpc/connect";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { type Static, Type } from "typebox";
import type { Logger } from "./logger.js";
import { StartupError } from "./service-process.js";

/**
 * Who may call the internal RPC ports. One secret per installation: its holders (gateway,
 * api-server, worker, launcher) may call every method and send it as their token. The runtime,
 * which runs the user's graph code, holds a token of its own derived from it, which the data
 * plane accepts only for what a runtime needs (see the api-server's policy). Servers keep only
 * SHA-256 digests of the tokens they accept.
 */
export type InternalRole = "internal" | "runtime";

/** The header every internal call carries: `authorization: Bearer <token>`. */
export const AUTHORIZATION_HEADER = "authorization";

/** The file under the launcher's data directory that holds its secret. */
export const INTERNAL_SECRET_FILE = "internal-secret";

/** What the runtime's token is derived from: HMAC-SHA256(secret, this). Versioned so it can change. */
const RUNTIME_TOKEN_LABEL = "langopen runtime v1";
/** What the token callers of a runtime send is derived from, the same way. */
const RUNTIME_CALLER_TOKEN_LABEL = "langopen runtime caller v1";
/** What a state-write grant signs (followed by its thread and expiry), kept apart from the runtime's token. */
const GRANT_LABEL = "langopen state-write grant v1";

/** The health service answers without a token: Kubernetes probes cannot send headers. */
const OPEN_SERVICES = new Set([Health.typeName]);

/**
 * The environment of a service that holds the installation's secret (split mode). Either the
 * secret itself or a file holding it (a mounted Kubernetes Secret, say); see resolveInternalSecret.
 */
export const InternalSecretConfigSchema = Type.Object({
  /** The installation's internal secret: at least 32 characters (e.g. `openssl rand -hex 32`). */
  LANGOPEN_INTERNAL_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** A file holding the secret (surrounding whitespace ignored); instead of LANGOPEN_INTERNAL_SECRET. */
  LANGOPEN_INTERNAL_SECRET_FILE: Type.Optional(Type.String({ minLength: 1 })),
});
export type InternalSecretConfig = Static<typeof InternalSecretConfigSchema>;

/** A new secret: 32 random bytes, hex. */
export function generateInternalSecret(): string {
  return randomBytes(32).toString("hex");
}

/** The token of the runtime, derived from the secret: HMAC-SHA256(secret, "langopen runtime v1"), hex. */
export function runtimeTokenOf(secret: string): string {
  return createHmac("sha256", secret).update(RUNTIME_TOKEN_LABEL).digest("hex");
}

/**
 * The token the installation's services send when they call a runtime, derived from the secret:
 * HMAC-SHA256(secret, "langopen runtime caller v1"), hex. Not the secret itself: graph code runs
 * in the runtime's process and could read what its callers send; this token opens runtimes only
 * (no data-plane server accepts it), and the secret cannot be had back from it.
 */
export function runtimeCallerTokenOf(secret: string): string {
  return createHmac("sha256", secret).update(RUNTIME_CALLER_TOKEN_LABEL).digest("hex");
}

/** The SHA-256 of a token, hex: what a server keeps to check it. */
export function tokenSha256(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function checkSecret(secret: string, source: string): string {
  if (secret.length < 32) throw new StartupError(`The internal secret in ${source} is shorter than 32 characters`);
  return secret;
}

/**
 * The secret of a service's environment (split mode): LANGOPEN_INTERNAL_SECRET, or the contents of
 * LANGOPEN_INTERNAL_SECRET_FILE; undefined when neither is set. Both set is a mistake.
 */
export async function resolveInternalSecret(config: InternalSecretConfig): Promise<string | undefined> {
  const { LANGOPEN_INTERNAL_SECRET: secret, LANGOPEN_INTERNAL_SECRET_FILE: file } = config;
  if (secret !== undefined && file !== undefined)
    throw new StartupError("Set LANGOPEN_INTERNAL_SECRET or LANGOPEN_INTERNAL_SECRET_FILE, not both");
  if (secret !== undefined) return secret;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new StartupError(`Cannot read LANGOPEN_INTERNAL_SECRET_FILE ${file}: ${(err as Error).message}`);
  }
  return checkSecret(text.trim(), file);
}

/** resolveInternalSecret for a service that cannot run without it: a missing secret fails the start, saying how to set it. */
export async function requireInternalSecret(config: InternalSecretConfig, service: string): Promise<string> {
  const secret = await resolveInternalSecret(config);
  if (secret === undefined)
    throw new StartupError(
      `The ${service} needs the installation's internal secret: set LANGOPEN_INTERNAL_SECRET (at least 32 characters, ` +
        "the same for every service; e.g. `openssl rand -hex 32`) or LANGOPEN_INTERNAL_SECRET_FILE",
    );
  return secret;
}

/**
 * The launcher's secret: `<dataDir>/internal-secret` (mode 0600), made at the first start and
 * reused after, so services started beside it later (another worker) can be given the same one.
 */
export async function loadOrCreateInternalSecret(dataDir: string, logger: Logger): Promise<string> {
  const file = path.join(dataDir, INTERNAL_SECRET_FILE);
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(file, `${generateInternalSecret()}\n`, { mode: 0o600, flag: "wx" });
    logger.info({ file }, "Created the internal secret");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  // Whoever made the file (a copy, an unpacked backup) may have left it readable by others.
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    await chmod(file, 0o600);
    logger.warn({ file }, "Made the internal secret readable by its owner only");
  }
  return checkSecret((await readFile(file, "utf8")).trim(), file);
}

/** The credentials of a runtime process: its own token, and the digest of the secret its callers send. */
export interface RuntimeCredentials {
  /** Sent on the runtime's calls to the data plane. */
  token: string;
  /** SHA-256 (hex) of the runtime caller token (runtimeCallerTokenOf): the runtime accepts callers that send it. */
  callerTokenSha256: string;
}

/**
 * What a launcher sends a runtime process it starts, on the IPC channel, before anything else:
 * its credentials, kept out of its environment, which the graph code can read.
 */
export interface RuntimeCredentialsMessage extends RuntimeCredentials {
  type: "credentials";
}

/** What a runtime is given: derived from the secret, which it never sees. */
export function runtimeCredentialsOf(secret: string): RuntimeCredentials {
  return { token: runtimeTokenOf(secret), callerTokenSha256: tokenSha256(runtimeCallerTokenOf(secret)) };
}

/** A 64-hex-digit value (a token or a digest), as the runtime's environment gives them. */
export const HexDigestSchema = Type.String({ pattern: "^[0-9a-fA-F]{64}$", description: "64 hex digits" });

/** A token a server accepts: the SHA-256 of the token and the role it gives its caller. */
export interface AcceptedToken {
  sha256: string;
  role: InternalRole;
}

/** The name of a method in permission tables: `package.Service/Method`. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/** Who may call a server: the tokens it accepts, and what each role other than `internal` may call. */
export interface RpcAuth {
  accepted: AcceptedToken[];
  /** The methods (methodName) each non-internal role may call; a role without an entry may call none. */
  permissions?: Partial<Record<Exclude<InternalRole, "internal">, ReadonlySet<string>>>;
}

/**
 * A server whose only callers are the installation's services, sending the token whose digest is
 * `sha256` (the secret itself for the builder; the runtime caller token for a runtime): every method for them.
 */
export function internalOnlyAuth(sha256: string): RpcAuth {
  return { accepted: [{ sha256, role: "internal" }] };
}

/** The role of the caller of the RPC being served; set by authInterceptor on every server. */
export const callerRoleKey = createContextKey<InternalRole | undefined>(undefined, { description: "langopen internal role" });

/** The role of the caller of the RPC a handler serves (`callerRole(ctx.values)`). */
export function callerRole(values: ContextValues): InternalRole | undefined {
  return values.get(callerRoleKey);
}

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** The role of a token, compared in constant time against each digest (all of them, whichever matches). */
function roleOf(accepted: AcceptedDigest[], token: string): InternalRole | undefined {
  const digest = createHash("sha256").update(token).digest();
  let role: InternalRole | undefined;
  for (const a of accepted) if (timingSafeEqual(a.digest, digest) && role === undefined) role = a.role;
  return role;
}

interface AcceptedDigest {
  digest: Buffer;
  role: InternalRole;
}

function acceptedDigests(auth: RpcAuth | undefined): AcceptedDigest[] {
  return (auth?.accepted ?? []).map((a) => {
    if (!/^[0-9a-f]{64}$/i.test(a.sha256)) throw new Error(`an accepted token digest must be 64 hex digits (role ${a.role})`);
    return { digest: Buffer.from(a.sha256, "hex"), role: a.role };
  });
}

/** Why a call's credential is refused: the message for the caller, and a few words for the log. */
export interface CredentialRefusal {
  message: string;
  why: string;
}

/** The role an `authorization` header's token gives, or why it gives none. */
function authenticate(accepted: AcceptedDigest[], header: string | null | undefined): InternalRole | CredentialRefusal {
  if (header === null || header === undefined)
    return { message: "This internal service needs a credential: the call carries no authorization header", why: "no token" };
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) return { message: "The authorization header is not a Bearer token", why: "not a bearer token" };
  return (
    roleOf(accepted, match[1] as string) ?? {
      message: "The credential is not accepted by this internal service",
      why: "unknown token",
    }
  );
}

/**
 * The credential check of a call on its headers alone, for a server to make before it reads the
 * body: Connect reads a unary call's body whole before any interceptor runs, so without it a
 * caller holding no credential could make a server buffer a body up to its read limit. Given the
 * request's path and `authorization` header, returns why the call is refused, or undefined when
 * it may go on (an open service, or an accepted token: what its role may call is authInterceptor's
 * to check).
 */
export function credentialCheckOnHeaders(
  auth: RpcAuth,
): (path: string, header: string | undefined) => CredentialRefusal | undefined {
  const accepted = acceptedDigests(auth);
  const openPrefixes = [...OPEN_SERVICES].map((typeName) => `/${typeName}/`);
  return (path, header) => {
    if (openPrefixes.some((prefix) => path.startsWith(prefix))) return undefined;
    const found = authenticate(accepted, header);
    return typeof found === "string" ? undefined : found;
  };
}

/**
 * Authenticates and authorizes every call of a server, and tells handlers the caller's role
 * (callerRoleKey, set over whatever the caller's context values held). Without `auth` the server
 * trusts every caller as `internal` (a server reached only in process, or a test). The health
 * service stays open. No token or an unknown one: UNAUTHENTICATED; a role that may not call the
 * method: PERMISSION_DENIED.
 */
export function authInterceptor(auth: RpcAuth | undefined, logger: Logger): Interceptor {
  const accepted = acceptedDigests(auth);
  return (next) => (req) => {
    if (OPEN_SERVICES.has(req.method.parent.typeName)) return next(req);
    let role: InternalRole = "internal";
    if (auth) {
      const refuse = (err: ConnectError, why: string) => {
        logger.warn({ rpc_service: req.method.parent.typeName, rpc_method: req.method.name, why }, "Refused internal RPC");
        return err;
      };
      const found = authenticate(accepted, req.header.get(AUTHORIZATION_HEADER));
      if (typeof found !== "string") throw refuse(unauthenticated(found.message), found.why);
      role = found;
      if (role !== "internal" && !auth.permissions?.[role]?.has(methodName(req.method))) {
        throw refuse(
          new ConnectError(`The ${role} credential may not call ${methodName(req.method)}`, Code.PermissionDenied),
          `${role} may not call it`,
        );
      }
    }
    const values = Object.create(req.contextValues) as ContextValues;
    values.set(callerRoleKey, role);
    return next({ ...req, contextValues: values });
  };
}

/** Sends a token on every call of a transport (a header the caller set itself wins). */
export function bearerToken(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (next) => (req) => {
    if (!req.header.has(AUTHORIZATION_HEADER)) req.header.set(AUTHORIZATION_HEADER, value);
    return next(req);
  };
}

/**
 * Lets the runtime write one thread's checkpoints outside a run, for a state update the api-server
 * asked for: signed by the api-server with the secret, carried back by the runtime on its writes,
 * checked by the api-server. The fields of langopen.data.v1.StateWriteGrant.
 */
export interface StateWriteGrantFields {
  threadId: string;
  /** Milliseconds since the Unix epoch; the grant is refused from then on. */
  expiresAtMs: bigint;
  /** HMAC-SHA256, keyed with the secret, of the label, the thread and the expiry. */
  signature: Uint8Array;
}

/** How long a grant is good for: an UpdateState call, with a graph factory to run first. */
export const STATE_WRITE_GRANT_TTL_MS = 60_000;

function grantSignature(secret: string, threadId: string, expiresAtMs: bigint): Buffer {
  return createHmac("sha256", secret).update(`${GRANT_LABEL}\n${threadId}\n${expiresAtMs}`).digest();
}

/** A grant to write `threadId`'s checkpoints until `ttlMs` from `now`. */
export function signStateWriteGrant(
  secret: string,
  threadId: string,
  now = Date.now(),
  ttlMs = STATE_WRITE_GRANT_TTL_MS,
): StateWriteGrantFields {
  const expiresAtMs = BigInt(now + ttlMs);
  return { threadId, expiresAtMs, signature: grantSignature(secret, threadId, expiresAtMs) };
}

/** Whether a grant is the secret's, for this thread, and not expired. */
export function verifyStateWriteGrant(secret: string, grant: StateWriteGrantFields, threadId: string, now = Date.now()): boolean {
  if (grant.threadId !== threadId || grant.expiresAtMs <= BigInt(now)) return false;
  const expected = grantSignature(secret, grant.threadId, grant.expiresAtMs);
  return grant.signature.length === expected.length && timingSafeEqual(Buffer.from(grant.signature), expected);
}
