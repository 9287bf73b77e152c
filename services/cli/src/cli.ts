import type { GlobalFlags } from "./args.js";
import { type Control, createControl } from "./client.js";
import { auditCommand } from "./commands/audit.js";
import { bundleFetchCommand } from "./commands/bundle.js";
import { deployCommand } from "./commands/deploy.js";
import {
  deploymentsDeleteCommand,
  deploymentsGetCommand,
  deploymentsListCommand,
  revisionsListCommand,
} from "./commands/deployments.js";
import { devCommand } from "./commands/dev.js";
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from "./commands/keys.js";
import { logsCommand } from "./commands/logs.js";
import { rollbackCommand } from "./commands/rollback.js";
import { secretsListCommand, secretsSetCommand, secretsUnsetCommand } from "./commands/secrets.js";
import type { CliIo, Command, CommandContext } from "./context.js";
import { API_KEY_HINT, CliError, describeFailure, HelpRequested, UsageError } from "./errors.js";
import { line } from "./output.js";

export const DEFAULT_CONTROL_URL = "http://127.0.0.1:8130";

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const COMMANDS: readonly Command[] = [
  deployCommand,
  deploymentsListCommand,
  deploymentsGetCommand,
  deploymentsDeleteCommand,
  revisionsListCommand,
  rollbackCommand,
  logsCommand,
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  secretsSetCommand,
  secretsListCommand,
  secretsUnsetCommand,
  auditCommand,
  bundleFetchCommand,
  devCommand,
];

const GLOBAL_USAGE = `Global options (before or after the command):
  --url URL      the control plane (default: LANGOPEN_CONTROL_URL, or ${DEFAULT_CONTROL_URL})
  --api-key KEY  the API key to call it with (default: LANGOPEN_API_KEY)
  --help, -h     show the usage of a command`;

function mainUsage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: langopen <command> [options]

Deploys LangGraph projects to a LangOpen platform and manages them (\`npm run platform\` starts one),
or serves a project on this machine (\`langopen dev\`).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

${GLOBAL_USAGE}

\`langopen <command> --help\` shows a command's usage.`;
}

function groupUsage(group: string, commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return `Usage: langopen ${group} <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

\`langopen ${group} <command> --help\` shows a command's usage.`;
}

const commandUsage = (command: Command): string => (command.remote ? `${command.usage}\n\n${GLOBAL_USAGE}` : command.usage);

/** What the arguments name: a command and its own arguments, or a usage text to show. */
type Resolved =
  | { kind: "command"; command: Command; argv: readonly string[] }
  | { kind: "help"; usage: string }
  | { kind: "usage-error"; message: string; usage: string };

function resolve(argv: readonly string[]): Resolved {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: "usage-error", message: "missing command", usage: mainUsage() };
  if (first === "help") {
    if (rest.length === 0) return { kind: "help", usage: mainUsage() };
    const target = resolve(rest);
    if (target.kind === "command") return { kind: "help", usage: commandUsage(target.command) };
    // `help deployments`: the group's usage.
    return rest.length === 1 && target.kind === "usage-error" && target.message.startsWith("missing command after")
      ? { kind: "help", usage: target.usage }
      : target;
  }
  const direct = COMMANDS.find((c) => c.name === first);
  if (direct) return { kind: "command", command: direct, argv: rest };
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  if (group.length === 0) return { kind: "usage-error", message: `unknown command '${first}'`, usage: mainUsage() };
  const [sub, ...subArgv] = rest;
  const usage = groupUsage(first, group);
  if (sub === "--help" || sub === "-h") return { kind: "help", usage };
  if (sub === undefined) return { kind: "usage-error", message: `missing command after '${first}'`, usage };
  const command = group.find((c) => c.name === `${first} ${sub}`);
  if (!command) return { kind: "usage-error", message: `unknown command '${first} ${sub}'`, usage };
  return { kind: "command", command, argv: subArgv };
}

/**
 * Splits the global options given before the command (`langopen --url U deploy …`) from the rest.
 * Returns undefined for --help.
 */
function leadingGlobals(argv: readonly string[]): { flags: GlobalFlags; rest: readonly string[] } | undefined {
  const flags: GlobalFlags = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("-")) break;
    if (arg === "--help" || arg === "-h") return undefined;
    const match = /^--(url|api-key)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new UsageError(`unknown option '${arg}'`);
    const name = match[1] as "url" | "api-key";
    let value = match[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith("-")) throw new UsageError(`option '--${name}' needs a value`);
    }
    flags[name] = value;
  }
  return { flags, rest: argv.slice(i) };
}

/**
 * Runs the command line: `argv` without the node binary and script (process.argv.slice(2)).
 * Resolves with the exit code: 0 done, 1 failed, 2 wrong usage. Never rejects, never exits.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let leading: ReturnType<typeof leadingGlobals>;
  try {
    leading = leadingGlobals(argv);
  } catch (err) {
    return usageError(io, (err as Error).message, mainUsage());
  }
  if (!leading) {
    line(io.stdout, mainUsage());
    return EXIT_OK;
  }
  const resolved = resolve(leading.rest);
  if (resolved.kind === "help") {
    line(io.stdout, resolved.usage);
    return EXIT_OK;
  }
  if (resolved.kind === "usage-error") return usageError(io, resolved.message, resolved.usage);

  const { command } = resolved;
  const opened: Control[] = [];
  const pre = leading.flags;
  const ctx: CommandContext = {
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    env: io.env,
    cwd: io.cwd ?? process.cwd(),
    execPath: io.execPath ?? process.execPath,
    onSignal: io.onSignal,
    control(flags) {
      const url = flags.url ?? pre.url ?? io.env.LANGOPEN_CONTROL_URL ?? DEFAULT_CONTROL_URL;
      const apiKey = flags["api-key"] ?? pre["api-key"] ?? io.env.LANGOPEN_API_KEY;
      if (!apiKey)
        throw new CliError("no API key", `${API_KEY_HINT} (the platform's first admin key is printed by \`npm run platform\`)`);
      const control = createControl({ url, apiKey });
      opened.push(control);
      return control;
    },
  };
  try {
    return await command.run(resolved.argv, ctx);
  } catch (err) {
    if (err instanceof HelpRequested) {
      line(io.stdout, commandUsage(command));
      return EXIT_OK;
    }
    if (err instanceof UsageError) return usageError(io, err.message, commandUsage(command));
    for (const text of describeFailure(err)) line(io.stderr, text);
    return EXIT_FAILURE;
  } finally {
    for (const control of opened) control.close();
  }
}

function usageError(io: CliIo, message: string, usage: string): number {
  line(io.stderr, `langopen: ${message}`);
  line(io.stderr);
  line(io.stderr, usage);
  return EXIT_USAGE;
}
