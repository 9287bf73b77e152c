import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Resources, ResourcesSchema } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { useId } from "react";

/** The three resource fields as typed (empty: the data plane's default). */
export interface ResourcesText {
  runtimeProcesses: string;
  workerConcurrency: string;
  runtimeMemoryMb: string;
}

const FIELDS: Array<{ key: keyof ResourcesText; label: string; hint: string; max: number }> = [
  { key: "runtimeProcesses", label: "Runtime processes", hint: "Processes running the graph code.", max: 64 },
  { key: "workerConcurrency", label: "Concurrent runs", hint: "Runs executed at once.", max: 1000 },
  { key: "runtimeMemoryMb", label: "Memory per process (MiB)", hint: "Empty: no limit.", max: 1_048_576 },
];

export function resourcesText(resources: Resources | undefined): ResourcesText {
  const text = (value: number | undefined) => (value ? String(value) : "");
  return {
    runtimeProcesses: text(resources?.runtimeProcesses),
    workerConcurrency: text(resources?.workerConcurrency),
    runtimeMemoryMb: text(resources?.runtimeMemoryMb),
  };
}

export function resourcesOf(
  text: ResourcesText,
): { ok: true; value: MessageInitShape<typeof ResourcesSchema> } | { ok: false; error: string } {
  const value: Record<keyof ResourcesText, number> = { runtimeProcesses: 0, workerConcurrency: 0, runtimeMemoryMb: 0 };
  for (const field of FIELDS) {
    const raw = text[field.key].trim();
    const number = raw === "" ? 0 : Number(raw);
    if (!Number.isInteger(number) || number < 0 || number > field.max)
      return { ok: false, error: `${field.label} must be a whole number from 0 to ${field.max} (empty: the default).` };
    value[field.key] = number;
  }
  return { ok: true, value };
}

/** Runtime processes, concurrent runs and memory: empty fields take the data plane's defaults. */
export function ResourcesFields({ value, onChange }: { value: ResourcesText; onChange: (value: ResourcesText) => void }) {
  const baseId = useId();
  return (
    <div className="resource-fields">
      {FIELDS.map((field) => (
        <div key={field.key} className="field">
          <label htmlFor={`${baseId}-${field.key}`}>{field.label}</label>
          <input
            id={`${baseId}-${field.key}`}
            type="number"
            min={0}
            max={field.max}
            placeholder="default"
            value={value[field.key]}
            aria-describedby={`${baseId}-${field.key}-hint`}
            onChange={(event) => onChange({ ...value, [field.key]: event.target.value })}
          />
          <p id={`${baseId}-${field.key}-hint`} className="hint">
            {field.hint}
          </p>
        </div>
      ))}
    </div>
  );
}
