import { invalidArgument } from "@langopen/common";

/** Roots an extract path may start from. */
const ROOTS = new Set(["values", "metadata", "config", "interrupts"]);
export const MAX_EXTRACT = 10;

type Step = string | number;

/** Parses `values.messages[-1].content` into ["values", "messages", -1, "content"]. */
export function parseExtractPath(path: string): Step[] {
  const steps: Step[] = [];
  const re = /([^.[\]]+)|\[(-?\d+)\]/g;
  let consumed = "";
  for (const m of path.matchAll(re)) {
    consumed += m[0];
    if (m[1] !== undefined) steps.push(m[1]);
    else steps.push(Number(m[2]));
  }
  const normalized = path.replace(/\./g, "");
  if (steps.length === 0 || consumed !== normalized || typeof steps[0] !== "string" || !ROOTS.has(steps[0])) {
    throw invalidArgument(`extract path ${JSON.stringify(path)} must start with values, metadata, config or interrupts`, [
      { field: "extract", description: "invalid path" },
    ]);
  }
  return steps;
}

/** Follows a parsed path through a JSON value; negative indexes count from the end. Missing: null. */
export function followPath(root: unknown, steps: Step[]): unknown {
  let current: unknown = root;
  for (const step of steps) {
    if (typeof step === "number") {
      if (!Array.isArray(current)) return null;
      current = current[step < 0 ? current.length + step : step];
    } else {
      if (current === null || typeof current !== "object" || Array.isArray(current)) return null;
      current = (current as Record<string, unknown>)[step];
    }
    if (current === undefined) return null;
  }
  return current;
}
