import { parseArgs } from "node:util";
import { HelpRequested, UsageError } from "./errors.js";

type OptionConfig = { type: "string" | "boolean"; multiple?: boolean; short?: string };
type OptionsConfig = Record<string, OptionConfig>;

/** Accepted by every command, before or after the command's name. */
export const GLOBAL_OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionsConfig;

/** Where the control plane is and which key to call it with, as given on the command line. */
export interface GlobalFlags {
  url?: string | undefined;
  "api-key"?: string | undefined;
}

/** The value of one option as parsed: strings or booleans, in an array when repeatable. */
type OptionValue<C> = C extends { type: "string"; multiple: true }
  ? string[]
  : C extends { type: "string" }
    ? string
    : C extends { type: "boolean"; multiple: true }
      ? boolean[]
      : boolean;

/** The values of a command's options (and the global ones); absent when not given. */
export type OptionValues<O> = { [K in keyof O]?: OptionValue<O[K]> };

export interface ParsedCommand<O> {
  values: OptionValues<O & typeof GLOBAL_OPTIONS>;
  positionals: string[];
}

/**
 * Parses a command's arguments strictly (an unknown flag is a usage error); `--help` anywhere
 * stops here with HelpRequested.
 */
export function parseCommand<const O extends OptionsConfig>(argv: readonly string[], options: O): ParsedCommand<O> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    // Node's messages name the flag ("Unknown option '--nope'"); --help still wins.
    if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested();
    throw new UsageError(cleanParseMessage((err as Error).message));
  }
  if (parsed.values.help) throw new HelpRequested();
  return parsed as ParsedCommand<O>;
}

function cleanParseMessage(message: string): string {
  // "Unknown option '--x'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--x\"" is long.
  return message.replace(/\. To specify a positional argument.*$/s, "");
}

/** The positional arguments, exactly as many as named (trailing names in brackets are optional). */
export function expectPositionals(positionals: readonly string[], names: readonly string[]): (string | undefined)[] {
  const required = names.filter((n) => !n.startsWith("[")).length;
  const missing = names[positionals.length];
  if (positionals.length < required && missing) throw new UsageError(`missing ${missing}`);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument '${positionals[names.length]}'`);
  return names.map((_, i) => positionals[i]);
}

/** The value of a flag the command cannot do without. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === "") throw new UsageError(`missing --${flag}`);
  return value;
}

/** One of the choices, or a usage error listing them. */
export function choice<const C extends string>(value: string | undefined, flag: string, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if ((choices as readonly string[]).includes(value)) return value as C;
  throw new UsageError(`--${flag} must be one of ${choices.join(", ")} (got '${value}')`);
}

/** A whole number within bounds, or a usage error. */
export function integer(value: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(
      `--${flag} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""} (got '${value}')`,
    );
  return n;
}

export interface KeyValueOptions {
  allowEmpty: boolean;
  /** What to do instead of an empty value, when one is refused. */
  emptyHint?: string;
}

/** `KEY=VALUE` split at the first "="; the value may hold more "=". */
export function keyValue(text: string, what: string, options: KeyValueOptions): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`${what} must be KEY=VALUE (got '${text}')`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (value === "" && !options.allowEmpty)
    throw new UsageError(
      `${what} ${key}= has an empty value (an unset shell variable?)${options.emptyHint ? `; ${options.emptyHint}` : ""}`,
    );
  return [key, value];
}

/** Several `KEY=VALUE` into a record; a key given twice is a usage error. */
export function keyValues(texts: readonly string[] | undefined, flag: string, options: KeyValueOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const text of texts ?? []) {
    const [key, value] = keyValue(text, `--${flag}`, options);
    if (Object.hasOwn(out, key)) throw new UsageError(`--${flag} ${key} is given twice`);
    out[key] = value;
  }
  return out;
}
