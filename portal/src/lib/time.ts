import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** A protobuf Timestamp as a Date; undefined when absent. */
export function toDate(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp === undefined ? undefined : timestampDate(timestamp);
}

/** The date and time in the user's locale, e.g. "3 Mar 2025, 14:05:09". */
export function formatAbsolute(date: Date): string {
  return absolute.format(date);
}

/** How long ago (or from now) a date is, in the largest whole unit, e.g. "5 minutes ago". */
export function formatRelative(date: Date, now: number = Date.now()): string {
  const seconds = Math.round((date.getTime() - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return Math.abs(seconds) < 10 && unit === "second" ? "just now" : relative.format(Math.round(seconds / size), unit);
    }
  }
  return absolute.format(date);
}

/** A duration in milliseconds, e.g. "850 ms", "12.3 s", "2 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
