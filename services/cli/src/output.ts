import type { Writable } from "node:stream";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";

/** Writes one line. */
export function line(out: Writable, text = ""): void {
  out.write(`${text}\n`);
}

/** Writes a value as one line of JSON (the last line of stdout is what scripts read). */
export function jsonLine(out: Writable, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/**
 * An aligned plain-text table: a header of column names, then one row per item; cells padded
 * with spaces, the last column not padded. No rows: `empty` instead.
 */
export function table(out: Writable, headers: readonly string[], rows: readonly (readonly string[])[], empty: string): void {
  if (rows.length === 0) {
    line(out, empty);
    return;
  }
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - width(c))))
      .join("  ")
      .trimEnd();
  line(out, format(headers));
  for (const row of rows) line(out, format(row.map((c) => oneLine(c))));
}

/** Name/value pairs, names aligned: for one object shown in full. */
export function fields(out: Writable, pairs: readonly (readonly [string, string])[]): void {
  const w = Math.max(...pairs.map(([k]) => width(k)));
  for (const [k, v] of pairs) line(out, `${k}:${" ".repeat(w - width(k) + 1)}${v}`.trimEnd());
}

function width(text: string): number {
  return [...text].length;
}

/** Control characters and line breaks would break the columns. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

/**
 * An enum value's name without its prefix ("DEPLOYED" for RevisionStatus.DEPLOYED), from the
 * generated enum object, which maps numbers back to names.
 */
export function enumName(enumObject: Record<number, string>, value: number): string {
  return enumObject[value] ?? String(value);
}

/** RFC 3339 in UTC to the second, or "" for no time. */
export function isoTime(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString() : "";
}

/** For tables: "2025-01-31 14:05:09" (UTC), or "-" for no time. */
export function shortTime(ts: Timestamp | undefined): string {
  return ts
    ? timestampDate(ts)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : "-";
}

/** The first characters of a long id or digest, for tables. */
export function short(text: string, length = 12): string {
  const bare = text.startsWith("sha256:") ? text.slice("sha256:".length) : text;
  return bare.length > length ? bare.slice(0, length) : bare || "-";
}

/** How long ago, as kubectl shows ages: "42s", "5m", "3h", "2d" (the largest unit, rounded down). */
export function age(ts: Timestamp, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - timestampDate(ts).getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}
