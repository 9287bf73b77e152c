import { Code, type ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "@langopen/gen/google/rpc/error_details_pb";

/** Wrong use of the command line: the message, then the command's usage, on stderr; exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** `--help` was asked for: the command's usage on stdout; exit 0. */
export class HelpRequested extends Error {
  override readonly name = "HelpRequested";
}

/** A failure to report as `langopen: <message>` (plus an optional hint); exit 1. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A call to the control plane that failed, with what the call was for ("list deployments"). */
export class CallFailed extends Error {
  override readonly name = "CallFailed";
  constructor(
    readonly what: string,
    readonly error: ConnectError,
    readonly url: string,
  ) {
    super(`${what}: ${error.rawMessage}`);
  }
}

/** The lines written to stderr for a failure: `langopen: <what failed>: <message>`, then what to fix. */
export function describeFailure(err: unknown): string[] {
  if (err instanceof CliError) return [`langopen: ${err.message}`, ...(err.hint ? [`hint: ${err.hint}`] : [])];
  if (err instanceof CallFailed) {
    const lines = [`langopen: ${err.what}: ${err.error.rawMessage || Code[err.error.code]}`];
    for (const violations of err.error.findDetails(BadRequestSchema)) {
      for (const v of violations.fieldViolations) lines.push(`  ${v.field}: ${v.description}`);
    }
    const hint = hintFor(err.error.code, err.what, err.url);
    if (hint) lines.push(`hint: ${hint}`);
    return lines;
  }
  return [`langopen: ${err instanceof Error ? err.message : String(err)}`];
}

export const API_KEY_HINT = "set LANGOPEN_API_KEY (or --api-key) to a key from `langopen keys create`";

function hintFor(code: Code, what: string, url: string): string | undefined {
  switch (code) {
    case Code.Unauthenticated:
      return `${API_KEY_HINT} (the platform's first admin key is printed by \`npm run platform\`)`;
    case Code.PermissionDenied:
      return `this key's role may not ${what}; use a key with a wider role or scope (an admin creates one with \`langopen keys create\`)`;
    case Code.Unavailable:
      return `is the control plane running at ${url}? start it with \`npm run platform\` (or point LANGOPEN_CONTROL_URL / --url at it)`;
    case Code.DeadlineExceeded:
      return `the control plane at ${url} did not answer in time; is it overloaded or unreachable?`;
    case Code.Unimplemented:
      return `is ${url} the control plane? check LANGOPEN_CONTROL_URL (or --url)`;
    default:
      return undefined;
  }
}
