import { BaseConfigSchema, HexDigestSchema, MetricsConfigSchema, PortSchema, UrlListSchema } from "@langopen/common";
import { type Static, Type } from "typebox";
import { DEFAULT_SANDBOX_ID, SANDBOX_MODES } from "./sandbox/modes.js";

/**
 * The runtime-runner's environment: where its graphs are and how to reach the data plane. It
 * takes no database or Redis credentials.
 */
export const RuntimeConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  ...MetricsConfigSchema.properties,
  LANGOPEN_CONFIG: Type.String({ minLength: 1 }),
  RPC_HOST: Type.String({ default: "127.0.0.1" }),
  RPC_PORT: PortSchema(8125),
  /** The api-server that serves CheckpointService and StoreService. */
  API_SERVER_URL: UrlListSchema(),
  /** A graph whose module takes longer than this to load is reported as failed (startup waits at most this long). */
  GRAPH_LOAD_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /*
   * Split mode (no launcher): the runtime's credentials, both required. Derived from the
   * installation's secret, which the runtime never gets (it runs the user's graph code):
   * LANGOPEN_RUNTIME_TOKEN = hex HMAC-SHA256(secret, "langopen runtime v1")
   *   (`printf %s "langopen runtime v1" | openssl dgst -sha256 -hmac "$SECRET"`), and
   * LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256 = hex SHA-256 of the token its callers send, itself hex
   *   HMAC-SHA256(secret, "langopen runtime caller v1") (never the secret: graph code could read it here).
   * The environment is visible to graph code until the sandbox isolates it; the token only lets it
   * read and write checkpoints and store items of the runs it executes. A launcher passes them
   * on its IPC channel instead.
   */
  /** What the runtime sends the data plane: it may read, and write for its runs only. */
  LANGOPEN_RUNTIME_TOKEN: Type.Optional(HexDigestSchema),
  /** The SHA-256 of the caller token its callers (workers, api-servers, gateways) send. */
  LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: Type.Optional(HexDigestSchema),
  /**
   * How graph code is isolated. `node`: the runtime runs the graphs in a child process under
   * Node's permission model (read the project, write a scratch folder, no child processes,
   * workers or native addons unless langgraph.json's `langopen.sandbox.allow` asks), with an
   * environment without LangOpen's variables, and as LANGOPEN_SANDBOX_UID/GID when started as
   * root; the credentials reach it over IPC, never in its environment. `none`: graphs run in
   * this process, as they did before the sandbox (for debugging only).
   */
  LANGOPEN_SANDBOX: Type.Union(
    SANDBOX_MODES.map((mode) => Type.Literal(mode)),
    { default: "node" },
  ),
  /**
   * The sandboxed runtime process's memory in MB, heap and off-heap together (its data segment,
   * RLIMIT_DATA; in gVisor the sandbox's memory limit, plus 128 MB for gVisor itself): buffers
   * graph code allocates do not count against the heap limit. Past it an allocation fails: a
   * Buffer's throws in graph code, V8's ends the process (its supervisor logs that it ran out of
   * memory and starts it again). 2048, as under `npm start`: room for a heap of 1024 MB
   * (NODE_OPTIONS=--max-old-space-size=1024) and as much again for buffers; 0: no limit. Not
   * applied with LANGOPEN_SANDBOX=none (the graphs run in this process).
   */
  LANGOPEN_RUNTIME_MAX_MEMORY_MB: Type.Integer({ minimum: 0, maximum: 1_048_576, default: 2_048 }),
  /** The user graph code runs as when the runtime is started as root (65534: `nobody`). */
  LANGOPEN_SANDBOX_UID: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: DEFAULT_SANDBOX_ID }),
  /** The group graph code runs as when the runtime is started as root (65534: `nogroup`). */
  LANGOPEN_SANDBOX_GID: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: DEFAULT_SANDBOX_ID }),
  /**
   * Whether graphs' schemas (getSchemas, subgraphs) are derived from their TypeScript types, as
   * upstream does, once at start off the request path. It runs the TypeScript compiler over the
   * project (seconds of CPU, a few hundred MB for that time): false leaves Annotation-typed graphs
   * with schemas that only list their channels.
   */
  LANGOPEN_TYPED_SCHEMAS: Type.Boolean({ default: true }),
  /**
   * Set by the process that starts a sandboxed runtime, not by users: where it leaves the schemas
   * of the graphs' TypeScript types once extracted (the sandbox refuses the runtime the worker
   * thread that would extract them).
   */
  LANGOPEN_TYPED_SCHEMAS_FILE: Type.Optional(Type.String()),
  /**
   * Set by the process that starts a runtime, not by users: where the project's UI components
   * (`ui` of langgraph.json) were bundled, outside the sandbox.
   */
  LANGOPEN_UI_DIR: Type.Optional(Type.String()),
  /**
   * Where the installation's API (its gateway) answers: the SDK's `Client()` created without a
   * URL in graph code or custom routes talks to it, as under upstream's server. Absent: the SDK's
   * own default (http://localhost:8123).
   */
  LANGOPEN_GATEWAY_URL: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Set by the process that starts a sandboxed runtime, not by users: JSON of the project's
   * TypeScript entries compiled outside the sandbox (source file to compiled file or error).
   */
  LANGOPEN_BUILT_MODULES: Type.Optional(Type.String()),
  /**
   * Set by the process that starts a sandboxed runtime, not by users: `stdio` when the runtime
   * runs in gVisor, where no IPC channel crosses: the credentials come as the first line of
   * stdin, its end means the parent is gone, and the started message goes out on stdout.
   */
  LANGOPEN_PARENT_CHANNEL: Type.Optional(Type.Literal("stdio")),
  /**
   * Set by the process that starts a runtime in gVisor, not by users: JSON of the Unix sockets
   * that are its only way in and out (the sandbox has no network): where it serves its RPC and
   * metrics, the api-servers' relays, the egress proxy (see sandbox/network.ts).
   */
  LANGOPEN_SANDBOX_NETWORK: Type.Optional(Type.String()),
});

export type RuntimeConfig = Static<typeof RuntimeConfigSchema>;
