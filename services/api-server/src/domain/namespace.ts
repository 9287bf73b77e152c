import { invalidArgument, malformed } from "@langopen/common";

/** Checks namespace labels: non-empty and free of '.', which joins them in paths. */
export function checkLabels(field: string, labels: string[]): string[] {
  for (const label of labels) {
    if (label === "") throw invalidArgument(`${field} labels must not be empty`, [{ field, description: "empty label" }]);
    if (label.includes(".")) {
      throw invalidArgument(`${field} labels must not contain '.', got ${JSON.stringify(label)}`, [
        { field, description: "label contains '.'" },
      ]);
    }
  }
  return labels;
}

/** A namespace that must name at least one label. */
export function requireNamespace(labels: string[]): string[] {
  if (labels.length === 0) throw malformed("namespace must not be empty");
  return checkLabels("namespace", labels);
}
