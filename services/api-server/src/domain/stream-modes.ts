/** Events every stream carries whatever modes were asked for. */
const ALWAYS = new Set(["metadata", "end", "error", "feedback"]);

/** The stream mode an SSE event name belongs to (`updates|sub:1` -> updates, `messages/partial` -> messages). */
function modeOf(event: string): string {
  const base = event.split("|")[0] ?? event;
  return base.split("/")[0] ?? base;
}

/**
 * Whether an event belongs to the asked modes. `messages-tuple` goes out as `messages`; legacy
 * `messages` as `messages/partial`, `/complete`, `/metadata`.
 */
export function eventMatchesModes(event: string, modes: readonly string[]): boolean {
  if (modes.length === 0 || ALWAYS.has(event)) return true;
  const base = event.split("|")[0] ?? event;
  const mode = modeOf(event);
  for (const asked of modes) {
    if (asked === "messages-tuple" && base === "messages") return true;
    if (asked === "messages" && mode === "messages" && base !== "messages") return true;
    if (asked === mode && asked !== "messages") return true;
  }
  return false;
}
