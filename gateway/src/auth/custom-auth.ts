import { createHash } from "node:crypto";
import { type CallOptions, type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { unavailable } from "@langopen/common";
import {
  type AuthRejection,
  AuthService,
  type AuthUser,
  type DescribeAuthResponse,
} from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { LRUCache } from "lru-cache";

/** What the gateway knows of the request being authenticated. */
export interface AuthRequest {
  method: string;
  url: string;
  origin: string;
  headers: Record<string, string>;
}

/** The Connect code nearest an HTTP status, for answers that are not plain HTTP (JSON-RPC, protocol envelopes). */
function codeOf(status: number): Code {
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 409) return Code.AlreadyExists;
  if (status === 429) return Code.ResourceExhausted;
  if (status >= 400 && status < 500) return Code.InvalidArgument;
  return Code.Internal;
}

/**
 * An answer of the project's auth other than success. REST routes send it as it is (status,
 * detail, headers: the error handler knows it); JSON-RPC routes see a ConnectError of the nearest
 * code.
 */
const kRejected = Symbol("langopen.auth-rejected");

/** Whether an error is the project's auth answering (ConnectError's own instanceof check matches every ConnectError). */
export function isAuthRejected(err: unknown): err is AuthRejected {
  return typeof err === "object" && err !== null && (err as { [kRejected]?: boolean })[kRejected] === true;
}

export class AuthRejected extends ConnectError {
  readonly [kRejected] = true;

  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string>,
  ) {
    super(detail, codeOf(status));
  }

  static of(rejection: AuthRejection): AuthRejected {
    return new AuthRejected(rejection.status, rejection.message, { ...rejection.headers });
  }
}

/** What a handler granted: the filter it returned (JSON text, empty for none) and the value as it left it. */
export interface AuthGrant {
  filterJson: string;
  value: Record<string, unknown>;
}

/** The dependency named when the project's auth cannot be asked. */
export const AUTH_DEPENDENCY = "runtime (custom auth)";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The project's custom auth as the gateway uses it: the module runs in the runtime (user code never
 * runs in the gateway); this asks it over AuthService. What `authenticate` answers is cached per
 * credential as langgraph.json's `auth.cache` says (the headers named there make the key), so a
 * cached request costs a map lookup; an event is authorized over the wire only when the project
 * has a handler for it.
 */
export class CustomAuth {
  readonly #client: Client<typeof AuthService>;
  #handlers = new Set<string>();
  #cache: LRUCache<string, AuthUser> | undefined;
  #cacheKeys: string[] = [];
  authenticates = false;

  private constructor(client: Client<typeof AuthService>, described: DescribeAuthResponse) {
    this.#client = client;
    this.#adopt(described);
  }

  #adopt(described: DescribeAuthResponse): void {
    this.#handlers = new Set(described.handlers);
    this.authenticates = described.authenticates;
    const cache = described.cache;
    this.#cacheKeys = cache?.cacheKeys.map((k) => k.toLowerCase()) ?? [];
    this.#cache =
      cache && this.#cacheKeys.length > 0
        ? new LRUCache({ max: Math.max(1, cache.maxSize), ttl: Math.max(1, cache.ttlSeconds) * 1000 })
        : undefined;
  }

  /**
   * Asks the runtime again after it reloaded the project (`--watch`): handlers added or removed
   * take effect at once, and users cached from the old module are forgotten. False when the
   * project no longer declares custom auth: the old handlers stay until a restart, so that an
   * edit never opens the API.
   */
  async refresh(options: CallOptions = {}): Promise<boolean> {
    const described = await this.#client.describeAuth({}, options);
    if (!described.configured) return false;
    this.#adopt(described);
    return true;
  }

  /**
   * Asks the runtime what the project declares; undefined when it has no custom auth. Fails when
   * the runtime cannot be asked: a gateway must not serve without the auth it was given.
   */
  static async connect(transport: Transport, options: CallOptions = {}): Promise<CustomAuth | undefined> {
    const client = createClient(AuthService, transport);
    const described = await client.describeAuth({}, options);
    return described.configured ? new CustomAuth(client, described) : undefined;
  }

  /** The handler the project registered for an event, in upstream's order of precedence. */
  handlerFor(resource: string, action: string): string | undefined {
    for (const key of [`${resource}:${action}`, resource, `*:${action}`, "*"]) {
      if (this.#handlers.has(key)) return key;
    }
    return undefined;
  }

  async authenticate(request: AuthRequest, options: CallOptions): Promise<AuthUser> {
    const key = this.#cacheKey(request.headers);
    const cached = key === undefined ? undefined : this.#cache?.get(key);
    if (cached) return cached;
    const res = await this.#call(() => this.#client.authenticate(request, options));
    if (res.outcome.case === "rejection") throw AuthRejected.of(res.outcome.value);
    if (res.outcome.case !== "user") throw new ConnectError("The runtime answered no user", Code.Internal);
    if (key !== undefined) this.#cache?.set(key, res.outcome.value);
    return res.outcome.value;
  }

  async authorize(
    user: AuthUser,
    resource: string,
    action: string,
    value: Record<string, unknown>,
    options: CallOptions,
  ): Promise<AuthGrant> {
    const res = await this.#call(() =>
      this.#client.authorize({ user, resource, action, valueJson: encoder.encode(JSON.stringify(value)) }, options),
    );
    if (res.outcome.case === "rejection") throw AuthRejected.of(res.outcome.value);
    if (res.outcome.case !== "grant") throw new ConnectError("The runtime answered no grant", Code.Internal);
    const grant = res.outcome.value;
    return {
      filterJson: decoder.decode(grant.filterJson),
      value: grant.valueJson.length > 0 ? (JSON.parse(decoder.decode(grant.valueJson)) as Record<string, unknown>) : value,
    };
  }

  /** The cache key of a request: a hash of the configured headers; none when it has none of them. */
  #cacheKey(headers: Record<string, string>): string | undefined {
    if (!this.#cache) return undefined;
    const values = this.#cacheKeys.map((name) => headers[name] ?? "");
    if (values.every((v) => v === "")) return undefined;
    return createHash("sha256").update(JSON.stringify(values)).digest("base64");
  }

  async #call<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      // The runtime down or restarting: an honest 503 naming it, never a pass.
      if (err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded)) {
        throw unavailable(AUTH_DEPENDENCY, err);
      }
      throw err;
    }
  }
}
