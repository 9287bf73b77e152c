import type { Readable, Writable } from "node:stream";
import type { GlobalFlags } from "./args.js";
import type { Control } from "./client.js";

/** What the command line reads and writes; main.ts passes the process's, tests their own. */
export interface CliIo {
  /** The environment: LANGOPEN_CONTROL_URL, LANGOPEN_API_KEY (and, for `dev`, the launcher's). */
  env: Readonly<Record<string, string | undefined>>;
  stdout: Writable;
  stderr: Writable;
  /** Secret values may come from it (`secrets set NAME KEY`). */
  stdin: Readable & { isTTY?: boolean | undefined };
  /** The folder relative paths are taken from; default: the process's. */
  cwd?: string;
  /** The Node.js binary `dev` runs the launcher with; default: the current one. */
  execPath?: string;
  /**
   * Subscribes to the termination signals (SIGINT, SIGTERM) the process receives, which `dev`
   * forwards to the launcher; returns the unsubscribe. Without it, signals act as usual.
   */
  onSignal?: (listener: (signal: NodeJS.Signals) => void) => () => void;
}

/** What a command runs with. */
export interface CommandContext {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: CliIo["stdin"];
  readonly env: CliIo["env"];
  readonly cwd: string;
  readonly execPath: string;
  readonly onSignal: CliIo["onSignal"];
  /**
   * The control plane's clients; the command's --url/--api-key win over those given before the
   * command, which win over the environment. Fails (exit 1, with a hint) when there is no key.
   */
  control(flags: GlobalFlags): Control;
}

/** One command of the command line. */
export interface Command {
  /** "deploy", "deployments list". */
  readonly name: string;
  /** One line, for the list of commands. */
  readonly summary: string;
  /** Shown by --help and after a usage error. */
  readonly usage: string;
  /** Whether it calls the control plane (its usage then mentions the global options). */
  readonly remote: boolean;
  /** Runs it; resolves with the exit code. */
  run(argv: readonly string[], ctx: CommandContext): Promise<number>;
}
