import { invalidArgument } from "@langopen/common";
import { CronExpressionParser } from "cron-parser";

/** The standard cron shorthands; the parser knows more, which a crontab would not accept. */
const ALIASES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"]);

/** A checked schedule: the expression, read in an IANA zone (UTC when none is given). */
export interface Schedule {
  expression: string;
  timezone: string;
}

/** True when the runtime knows the IANA zone. */
export function isKnownTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** What a schedule may ask for beyond a crontab's. */
export interface ScheduleOptions {
  /**
   * Whether a 6-field expression (seconds first) is accepted. Off by default: a cron that fires
   * every second creates a run per second for as long as it lives.
   */
  allowSeconds?: boolean;
}

/**
 * Checks a cron expression (5 fields, or a standard shorthand, or 6 with seconds first when
 * allowed) and a timezone; INVALID_ARGUMENT naming the field otherwise.
 */
export function checkSchedule(expression: string, timezone: string, options: ScheduleOptions = {}): Schedule {
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/).filter(Boolean);
  if (fields.length === 6 && !options.allowSeconds) {
    throw invalidArgument(
      `schedule ${JSON.stringify(expression)} has a seconds field: schedules are at minute granularity (5 fields: minute hour day month weekday)`,
      [{ field: "schedule", description: "must have 5 fields; a seconds field is not allowed" }],
    );
  }
  const shaped = ALIASES.has(trimmed.toLowerCase()) || fields.length === 5 || fields.length === 6;
  if (!shaped) {
    throw invalidArgument(
      `schedule ${JSON.stringify(expression)} is not a cron expression: give 5 fields (minute hour day month weekday)`,
      [{ field: "schedule", description: "must be a cron expression" }],
    );
  }
  const zone = timezone === "" ? "UTC" : timezone;
  if (!isKnownTimezone(zone)) {
    throw invalidArgument(`timezone ${JSON.stringify(timezone)} is not a known IANA time zone`, [
      { field: "timezone", description: "must be an IANA time zone such as Europe/Paris" },
    ]);
  }
  const schedule = { expression: ALIASES.has(trimmed.toLowerCase()) ? trimmed.toLowerCase() : trimmed, timezone: zone };
  try {
    nextAfter(schedule, new Date());
  } catch (err) {
    throw invalidArgument(`schedule ${JSON.stringify(expression)} is not a valid cron expression: ${(err as Error).message}`, [
      { field: "schedule", description: "must be a cron expression" },
    ]);
  }
  return schedule;
}

/** The first due time of the schedule strictly after the given instant. */
export function nextAfter(schedule: Schedule, after: Date): Date {
  const parsed = CronExpressionParser.parse(schedule.expression, { currentDate: after, tz: schedule.timezone });
  return parsed.next().toDate();
}

/**
 * The next due time after `after`, or null when it would fall after the end time (the cron
 * will not fire again).
 */
export function nextRunDate(schedule: Schedule, after: Date, endTime: Date | null): Date | null {
  const next = nextAfter(schedule, after);
  return endTime !== null && next.getTime() > endTime.getTime() ? null : next;
}
