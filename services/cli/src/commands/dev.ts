import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expectPositionals, integer, parseCommand } from "../args.js";
import type { Command } from "../context.js";
import { CliError } from "../errors.js";

/** Settings of the command line that mean something else to the launcher (a data plane under a control plane). */
const NOT_FOR_THE_LAUNCHER = ["LANGOPEN_CONTROL_URL", "LANGOPEN_DEPLOYMENT_ID", "LANGOPEN_API_KEY"];

export const devCommand: Command = {
  name: "dev",
  summary: "serve a project's langgraph.json on this machine, reloading on changes",
  remote: false,
  usage: `Usage: langopen dev [--config PATH] [--port PORT] [--host HOST] [--no-watch]

Serves the graphs of a project's langgraph.json on this machine with the LangGraph API, as
\`npm start -- --config PATH --watch\` does, and reloads them when a file of the project changes.
Its data (an embedded PostgreSQL unless DATABASE_URL is set) goes to .langopen in the current
folder. Stop it with Ctrl-C.

Options:
  --config PATH  the project's langgraph.json (default: ./langgraph.json)
  --port PORT    the port to listen on (default: PORT, or 8123)
  --host HOST    the address to listen on (default: HOST, or 127.0.0.1)
  --no-watch     do not reload on changes

The launcher's environment variables apply (\`npm start -- --help\` lists them).`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      config: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "no-watch": { type: "boolean" },
    });
    expectPositionals(positionals, []);
    const port = integer(values.port, "port", 0, 65535);
    const config = path.resolve(ctx.cwd, values.config ?? "langgraph.json");
    if (!existsSync(config))
      throw new CliError(
        `no langgraph.json at ${config}`,
        values.config ? "check --config" : "run it in a project's folder, or give --config path/to/langgraph.json",
      );
    const launcher = launcherMain();
    const args = [launcher, "--config", config];
    if (port !== undefined) args.push("--port", String(port));
    if (values.host !== undefined) args.push("--host", values.host);
    if (!values["no-watch"]) args.push("--watch");
    const env = Object.fromEntries(Object.entries(ctx.env).filter(([k]) => !NOT_FOR_THE_LAUNCHER.includes(k)));

    const child = spawn(ctx.execPath, args, { cwd: ctx.cwd, env, stdio: "inherit" });
    const unsubscribe = ctx.onSignal?.((signal) => {
      // The launcher stops gracefully on the first signal and ignores a repeat within a second
      // (a terminal's Ctrl-C reaches both processes).
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once("error", (err) => reject(new CliError(`cannot start the launcher: ${err.message}`)));
        child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
      });
    } finally {
      unsubscribe?.();
    }
  },
};

/** The launcher's process entry: `dist/main.js` of the @langopen/launcher package. */
function launcherMain(): string {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve("@langopen/launcher"));
  } catch (err) {
    throw new CliError(`cannot find the launcher (@langopen/launcher): ${(err as Error).message}`, "install it with the CLI");
  }
  for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) {
      const main = path.join(dir, "dist", "main.js");
      if (!existsSync(main)) throw new CliError(`the launcher is not built: ${main} is missing`, "run `npm run build`");
      return main;
    }
    if (path.dirname(dir) === dir) throw new CliError(`cannot find the launcher's package folder from ${entry}`);
  }
}
