import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  bearerToken,
  freePort,
  generateInternalSecret,
  type RuntimeCredentials,
  runtimeCallerTokenOf,
  runtimeCredentialsOf,
} from "@langopen/common";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";

/** The runtime-runner's entry point, as split mode starts it. */
export const RUNTIME_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/** A runtime-runner started on its own (split mode: its credentials in its environment, no launcher). */
export interface SplitRuntime {
  readonly child: ChildProcess;
  /** Its RPC port. */
  readonly port: number;
  /** What it was given (derived from a secret it never saw). */
  readonly credentials: RuntimeCredentials;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  /** A transport to it sending what its callers send (the caller token, never the secret). */
  transport(url?: string): Transport;
  /** A RuntimeService client on that transport. */
  client(url?: string): Client<typeof RuntimeService>;
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Starts `dist/main.js` for the project at `config`, with credentials derived from a fresh secret,
 * RPC on a free loopback port and an api-server address nobody serves; `env` adds or overrides.
 * NODE_OPTIONS of the test process is not passed on unless `env` sets it.
 */
export async function spawnSplitRuntime(config: string, env: Record<string, string> = {}): Promise<SplitRuntime> {
  const secret = generateInternalSecret();
  const credentials = runtimeCredentialsOf(secret);
  const port = await freePort();
  const { NODE_OPTIONS: _inherited, ...inherited } = process.env;
  const child = spawn(process.execPath, [RUNTIME_MAIN], {
    env: {
      ...inherited,
      LANGOPEN_CONFIG: config,
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(port),
      API_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "info",
      LANGOPEN_RUNTIME_TOKEN: credentials.token,
      LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: credentials.callerTokenSha256,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const token = runtimeCallerTokenOf(secret);
  const transport = (url = `http://127.0.0.1:${port}`) =>
    createGrpcTransport({ baseUrl: url, interceptors: [bearerToken(token)] });
  return {
    child,
    port,
    credentials,
    output: () => output,
    transport,
    client: (url) => createClient(RuntimeService, transport(url)),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The url of the runtime once it logs "Runtime is ready" (rejects when it exits first, or after `timeoutMs`). */
export function readyUrl(runtime: SplitRuntime, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = runtime
        .output()
        .split("\n")
        .find((l) => l.includes('"Runtime is ready"'));
      if (!line) return false;
      clearTimeout(timer);
      runtime.child.stdout?.off("data", check);
      resolve((JSON.parse(line) as { url: string }).url);
      return true;
    };
    const timer = setTimeout(() => reject(new Error(`the runtime did not become ready:\n${runtime.output()}`)), timeoutMs);
    if (check()) return;
    runtime.child.stdout?.on("data", check);
    runtime.child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the runtime exited with ${code}:\n${runtime.output()}`));
    });
  });
}
