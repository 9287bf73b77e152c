import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { formatAbsolute, formatRelative, toDate } from "../lib/time";

/** A timestamp shown relative to now, with the exact time on hover and for machines. */
export function Time({ value, absolute = false }: { value: Timestamp | undefined; absolute?: boolean }) {
  const date = toDate(value);
  if (date === undefined) return <span className="muted">—</span>;
  const exact = formatAbsolute(date);
  return (
    <time dateTime={date.toISOString()} title={exact}>
      {absolute ? exact : formatRelative(date)}
    </time>
  );
}
