import { Code, ConnectError } from "@connectrpc/connect";
import { Reason, type ReasonedOptions, reasoned, unavailable } from "@langopen/common";

/**
 * Postgres errors as the data plane's callers see them: ConnectErrors whose messages are written
 * for users (no table, column, constraint, type or Postgres wording), with the Postgres error
 * kept as their `cause` (which never leaves the process), so store code can still branch on its
 * SQLSTATE (sqlState). Errors of no known class are left as they are: the RPC edge answers them
 * INTERNAL and logs them.
 */

/** What a row of each table is called in messages. */
const KIND_OF_TABLE: Readonly<Record<string, string>> = {
  assistants: "assistant",
  assistant_versions: "assistant version",
  threads: "thread",
  checkpoints: "checkpoint",
  checkpoint_writes: "checkpoint write",
  store_items: "item",
  runs: "run",
  crons: "cron",
  cron_firings: "cron firing",
  webhook_deliveries: "webhook delivery",
};

/** What the parent a foreign key names is called, by its column (`<table>_<column>_fkey`). */
const KIND_OF_REFERENCE: ReadonlyArray<readonly [string, string]> = [
  ["_thread_id_fkey", "thread"],
  ["_assistant_id_fkey", "assistant"],
  ["_cron_id_fkey", "cron"],
  ["_run_id_fkey", "run"],
];

/** Unique constraints whose clash means something more precise than "already exists". */
const UNIQUE_CONSTRAINTS: Readonly<Record<string, (options: ReasonedOptions) => ConnectError>> = {
  runs_one_running_per_thread: (options) =>
    reasoned(Code.FailedPrecondition, Reason.ThreadBusy, "the thread is busy with another run", options),
};

/** Codes of data exceptions (class 22) with a message of their own; the rest say "a value is not valid". */
const DATA_MESSAGES: Readonly<Record<string, string>> = {
  "22003": "a value is out of range", // numeric_value_out_of_range
  "22008": "a date or time is out of range", // datetime_field_overflow
  "22007": "a date or time is not valid", // invalid_datetime_format
  "22001": "a value is too long", // string_data_right_truncation
  "22021": "text must not contain the NUL character", // character_not_in_repertoire: a 0x00 byte in text
  "22P05": "text must not contain the NUL character", // untranslatable_character: \u0000 in jsonb
  "22P02": "a value is not in a valid format", // invalid_text_representation
  "22032": "a value is not valid JSON", // invalid_json_text
};

/** SQLSTATEs and client error codes that mean Postgres cannot be reached, rather than that a query was wrong. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

interface PgErrorFields {
  code?: unknown;
  table?: unknown;
  constraint?: unknown;
  detail?: unknown;
}

/** The `code` of an error when it is a string (a SQLSTATE, or a Node error code such as ECONNRESET). */
function stringCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as PgErrorFields).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/**
 * The SQLSTATE of a Postgres error, also once translated (from the ConnectError's cause): what
 * store code branches on, e.g. `sqlState(err) === "23505"`.
 */
export function sqlState(err: unknown): string | undefined {
  const own = stringCode(err);
  if (own !== undefined) return own;
  return err instanceof ConnectError ? stringCode(err.cause) : undefined;
}

/** True when an error means Postgres cannot be reached (or was lost), rather than that a query was wrong. */
export function isPgUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = stringCode(err);
  if (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end/i.test(
    err.message,
  );
}

function kindOfTable(table: unknown): string | undefined {
  return typeof table === "string" ? KIND_OF_TABLE[table] : undefined;
}

function kindOfReference(constraint: unknown): string | undefined {
  if (typeof constraint !== "string") return undefined;
  return KIND_OF_REFERENCE.find(([suffix]) => constraint.endsWith(suffix))?.[1];
}

/**
 * The ConnectError a Postgres (or pg driver) error stands for; the error itself when it stands
 * for none (a fault of the query, not of its input: INTERNAL at the edge). Idempotent.
 */
export function translatePgError(err: unknown): unknown {
  if (err instanceof ConnectError || !(err instanceof Error)) return err;
  if (isPgUnavailable(err)) return unavailable("postgres", err);
  const code = stringCode(err);
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return err;
  const fields = err as PgErrorFields;
  const options = { cause: err };
  // Integrity constraints (class 23).
  if (code === "23505") {
    const special = typeof fields.constraint === "string" ? UNIQUE_CONSTRAINTS[fields.constraint] : undefined;
    if (special) return special(options);
    const kind = kindOfTable(fields.table);
    return reasoned(
      Code.AlreadyExists,
      Reason.AlreadyExists,
      kind ? `the ${kind} already exists` : "the resource already exists",
      {
        ...options,
        metadata: kind ? { kind } : {},
      },
    );
  }
  if (code === "23503") {
    const parent = kindOfReference(fields.constraint);
    // A delete or key update of a row still referenced (no foreign key here forbids one today: all cascade).
    if (typeof fields.detail === "string" && /still referenced/.test(fields.detail)) {
      const kind = kindOfTable(fields.table);
      return reasoned(
        Code.FailedPrecondition,
        Reason.MissingParent,
        parent ? `the ${parent} is still in use` : `a ${kind ?? "resource"} is still in use`,
        options,
      );
    }
    return reasoned(
      Code.FailedPrecondition,
      Reason.MissingParent,
      parent ? `the ${parent} does not exist` : "a referenced resource does not exist",
      options,
    );
  }
  // Data exceptions (class 22): the caller's values.
  if (code.startsWith("22")) {
    return reasoned(Code.InvalidArgument, Reason.InvalidArgument, dataMessage(code, err.message), options);
  }
  // program_limit_exceeded: e.g. a JSON document or an index row over Postgres's size limits.
  if (code === "54000") return reasoned(Code.InvalidArgument, Reason.InvalidArgument, "a value is too large", options);
  // serialization_failure, deadlock_detected: inTransaction tries again first; past that, the caller may.
  if (code === "40001" || code === "40P01") {
    return reasoned(Code.Aborted, Reason.Conflict, "the operation collided with a concurrent one; try again", options);
  }
  // query_canceled: a statement timeout.
  if (code === "57014") return reasoned(Code.DeadlineExceeded, Reason.Timeout, "the operation took too long", options);
  // insufficient_resources (disk full, out of memory): the database cannot serve now.
  if (code.startsWith("53")) return unavailable("postgres", err);
  return err;
}

/**
 * A class-22 message. Postgres says which type an invalid value was meant to be only in its
 * message (in the server's language, English by default): when it says uuid or json, so do we.
 */
function dataMessage(code: string, pgMessage: string): string {
  if (code === "22P02" && /type uuid\b/.test(pgMessage)) return "an id is not a valid UUID";
  if (code === "22P02" && /type jsonb?\b/.test(pgMessage)) return "a value is not valid JSON";
  return DATA_MESSAGES[code] ?? "a value is not valid";
}
