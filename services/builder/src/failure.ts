/** One defect of the source, where it is (as the proto's Defect). */
export interface Defect {
  /** Relative to the source's root. */
  file: string;
  /** 1-based; 0 when the defect has no line (a missing file). */
  line: number;
  message: string;
}

/** A build that cannot go on: `message` says why in one sentence; `defects` point into the source. */
export class BuildFailure extends Error {
  override readonly name = "BuildFailure";
  constructor(
    message: string,
    readonly defects: Defect[] = [],
  ) {
    super(message);
  }
}

/** `file:line: message`, as compilers print them (no line: `file: message`). */
export const formatDefect = (d: Defect): string => `${d.file}${d.line > 0 ? `:${d.line}` : ""}: ${d.message}`;
