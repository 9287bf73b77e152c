// The store's namespaces as a tree browsed by prefix, and namespaces as a person types them.

/**
 * What lies under `prefix`, from namespaces listed with that prefix (and cut to one label
 * deeper, as ListNamespaces' max_depth does): the next labels, sorted, and whether items sit in
 * the prefix itself.
 */
export function childrenOf(
  namespaces: ReadonlyArray<readonly string[]>,
  prefix: readonly string[],
): { children: string[]; hasOwn: boolean } {
  const children = new Set<string>();
  let hasOwn = false;
  for (const labels of namespaces) {
    if (!startsWith(labels, prefix)) continue;
    const next = labels[prefix.length];
    if (next === undefined) hasOwn = true;
    else children.add(next);
  }
  return { children: [...children].sort((a, b) => a.localeCompare(b)), hasOwn };
}

export function startsWith(labels: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= labels.length && prefix.every((label, i) => labels[i] === label);
}

export function sameNamespace(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && startsWith(a, b);
}

/** A namespace as its labels joined by "/" (as a JSON array when a label holds "/" or is blank at an end). */
export function formatNamespace(labels: readonly string[]): string {
  const plain = labels.every((label) => label !== "" && !label.includes("/") && label.trim() === label);
  return plain ? labels.join("/") : JSON.stringify(labels);
}

export type ParsedNamespace = { ok: true; value: string[] } | { ok: false; error: string };

/** A namespace typed as labels separated by "/", or as a JSON array of strings. */
export function parseNamespace(text: string): ParsedNamespace {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, error: "Enter a namespace: at least one label." };
  if (trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      return { ok: false, error: `Not a JSON array: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (!Array.isArray(value) || value.length === 0 || !value.every((label) => typeof label === "string" && label !== "")) {
      return { ok: false, error: "The JSON array must hold labels: non-empty strings." };
    }
    return { ok: true, value };
  }
  const labels = trimmed.split("/").map((label) => label.trim());
  if (labels.some((label) => label === ""))
    return { ok: false, error: 'A label is empty: write labels between "/", e.g. users/alice.' };
  return { ok: true, value: labels };
}

/** Search params naming a namespace (?<name>=a&<name>=b), kept apart so that labels may hold any character. */
export function namespaceParams(params: URLSearchParams, name: string, labels: readonly string[]): URLSearchParams {
  const next = new URLSearchParams(params);
  next.delete(name);
  for (const label of labels) next.append(name, label);
  return next;
}
