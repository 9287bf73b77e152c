// The create-cron form's fields checked and turned into a CreateCron request.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateCronRequestSchema } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { encodeJson, isJsonObject, parseJsonText } from "../../lib/json";

export interface CronFields {
  assistantId: string;
  /** Empty: a stateless cron (a new thread for each run). */
  threadId: string;
  schedule: string;
  /** Empty: UTC. */
  timezone: string;
  /** JSON text; empty: the run has no input. */
  input: string;
  /** JSON object text; empty: none. */
  metadata: string;
  enabled: boolean;
}

export type CronProblems = Partial<Record<keyof CronFields, string>>;

export type CronRequest = MessageInitShape<typeof CreateCronRequestSchema>;

/** The request the fields make, or what is wrong with them (the server checks the schedule itself). */
export function cronRequest(fields: CronFields): { ok: true; request: CronRequest } | { ok: false; problems: CronProblems } {
  const problems: CronProblems = {};
  if (fields.assistantId.trim() === "") problems.assistantId = "Choose the assistant the cron runs.";
  const schedule = fields.schedule.trim().replace(/\s+/g, " ");
  if (schedule === "") problems.schedule = "Enter a schedule, e.g. 0 9 * * 1-5.";
  let input: unknown;
  if (fields.input.trim() !== "") {
    const parsed = parseJsonText(fields.input);
    if (parsed.ok) input = parsed.value;
    else problems.input = `Not valid JSON: ${parsed.error}`;
  }
  let metadata: Record<string, unknown> | undefined;
  if (fields.metadata.trim() !== "") {
    const parsed = parseJsonText(fields.metadata);
    if (!parsed.ok) problems.metadata = `Not valid JSON: ${parsed.error}`;
    else if (!isJsonObject(parsed.value)) problems.metadata = "Metadata is a JSON object.";
    else metadata = parsed.value;
  }
  if (Object.keys(problems).length > 0) return { ok: false, problems };
  return {
    ok: true,
    request: {
      threadId: fields.threadId.trim(),
      schedule,
      timezone: fields.timezone.trim(),
      enabled: fields.enabled,
      payload: { assistantId: fields.assistantId.trim(), inputJson: encodeJson(input) },
      ...(metadata !== undefined ? { metadata: metadata as CronRequest["metadata"] } : {}),
    },
  };
}
