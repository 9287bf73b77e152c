/**
 * The memory limits of a runtime process, shared by the two processes that start one (the
 * launcher under `npm start`, the runtime-runner's supervisor in split mode): how the limit is
 * applied, and how an exit is told apart as running out of memory.
 */

/** The memory limits a runtime process was started with. */
export interface RuntimeMemoryLimits {
  /** Its V8 heap limit (--max-old-space-size) in MB, and the setting that gave it; absent: Node's default. */
  heap?: { mb: number; setting: string };
  /**
   * LANGOPEN_RUNTIME_MAX_MEMORY_MB: its data segment (see withMemoryLimit), or in gVisor its
   * sandbox's memory (the container's limit); absent: none.
   */
  memoryMb?: number;
}

/** How a runtime process ended, as the process that started it saw it. */
export interface RuntimeProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It ran in gVisor: runsc's exit is the sandbox's. */
  gvisor: boolean;
  /** The process that started it stopped or killed it (the end is no failure of its own). */
  stoppedByParent: boolean;
}

/** Why a runtime process ended: a sentence for the runs it hosted, and whether it ran out of memory. */
export interface RuntimeExitCause {
  reason: string;
  outOfMemory: boolean;
}

/**
 * Node with `argv`, under a limit on its data segment (RLIMIT_DATA: the heap, buffers and native
 * allocations together) when `maxMemoryMb` is given: Node has no way to set a child's rlimits, so
 * a shell sets it and `exec`s Node in its place (same pid, same IPC channel). Past it an
 * allocation fails: a Buffer's throws RangeError in graph code, V8's ends the process. On
 * Windows, no limit.
 */
export function withMemoryLimit(argv: string[], maxMemoryMb: number | undefined): [string, string[]] {
  if (maxMemoryMb === undefined || process.platform === "win32") return [process.execPath, argv];
  const kb = Math.floor(maxMemoryMb * 1024);
  return ["/bin/sh", ["-c", `ulimit -d ${kb} && exec "$0" "$@"`, process.execPath, ...argv]];
}

/**
 * Why a runtime process (started with `limits`) ended. V8 aborts the process when its heap
 * limit is reached, or when an allocation fails past the data segment limit (SIGABRT; 134
 * through a shell). In gVisor the memory limit is the container's: past it the kernel kills the
 * whole sandbox (runsc exits 137).
 */
export function runtimeExitCause(exit: RuntimeProcessExit, limits: RuntimeMemoryLimits): RuntimeExitCause {
  const { code, signal } = exit;
  const heapExhausted = !exit.stoppedByParent && (signal === "SIGABRT" || code === 134);
  const containerExhausted = exit.gvisor && limits.memoryMb !== undefined && code === 137 && !exit.stoppedByParent;
  if (containerExhausted) {
    return {
      outOfMemory: true,
      reason: `the runtime process running the run ran out of memory (its sandbox's limit ${limits.memoryMb} MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB) and was restarted`,
    };
  }
  if (heapExhausted) {
    const heap = limits.heap ? `heap limit ${limits.heap.mb} MB, ${limits.heap.setting}` : "heap limit Node's default";
    let memory = "";
    if (limits.memoryMb !== undefined && !exit.gvisor) {
      // The data segment's limit, which V8 meets as it meets the heap limit.
      memory = `; memory limit ${limits.memoryMb} MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB`;
    } else if (limits.memoryMb !== undefined && !limits.heap) {
      // In gVisor Node sees the sandbox's memory as the machine's, and sizes its default heap from it.
      memory = ` for its sandbox's ${limits.memoryMb} MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB`;
    }
    return {
      outOfMemory: true,
      reason: `the runtime process running the run ran out of memory (${heap}${memory}) and was restarted`,
    };
  }
  return {
    outOfMemory: false,
    reason: `the runtime process running the run exited (code ${code}, signal ${signal}) and was restarted`,
  };
}
