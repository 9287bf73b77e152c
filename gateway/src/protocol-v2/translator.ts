import { type AgentStatus, lifecycleOfRunStatus, runStatusName } from "../mappers/run-status.js";
import { EventSequence, madeUpInterruptId } from "./ids.js";
import { MessageAssembler, messageIdsIn } from "./messages.js";
import { nsKey, parseEventName, segmentName } from "./namespaces.js";
import { checkpointEnvelope, customData, errorMessageOf, toolsData } from "./payloads.js";
import { newRunState, type RunState } from "./run-state.js";
import { isObject, type Json, type LogEvent, type Namespace, type ProtocolEvent, str } from "./types.js";

/*
 * The translator: one per connection, fed the thread's log from its start. The api-server's
 * StreamThread gives every event of every run on a thread, in order, as the runs' own streams
 * carry them (`metadata`, `values`, `updates`, `messages` tuples, `custom`, `tasks`, `tools`,
 * `checkpoints`, `error`, `end`, subgraph events named `<mode>|<ns>...`). It dispatches each by
 * kind and makes the v2 events: `lifecycle` for run (and subgraph) starts and ends,
 * `input.requested` for interrupts, `values` and `updates`, messages (messages.ts) and the
 * passthrough channels (payloads.ts), numbered as ids.ts says.
 */
export class ProtocolEventTranslator {
  private readonly events = new EventSequence();
  private run: RunState | undefined;
  private readonly messages = new MessageAssembler(this.events, {
    run: () => this.currentRun(),
    ensureNamespace: (namespace) => this.ensureNamespace(namespace),
  });

  /** The v2 events of one log entry, numbered on from the previous ones. */
  translate(entry: LogEvent): ProtocolEvent[] {
    this.events.begin(entry.id);
    const { method, namespace } = parseEventName(entry.event);
    const data = entry.data;
    switch (method) {
      case "metadata":
        this.startRun(data);
        break;
      case "end":
        this.endRun(data);
        break;
      case "error":
        this.failRun(data);
        break;
      case "values":
        this.onValues(namespace, data);
        break;
      case "updates":
        this.onUpdates(namespace, data);
        break;
      case "messages":
        this.messages.onTuple(namespace, data);
        break;
      case "messages/metadata":
        this.messages.onLegacyMetadata(data);
        break;
      case "messages/partial":
        this.messages.onLegacy(namespace, data, false);
        break;
      case "messages/complete":
        this.messages.onLegacy(namespace, data, true);
        break;
      case "custom":
        this.ensureNamespace(namespace);
        this.events.emit("custom", namespace, customData(data));
        break;
      case "tasks":
        this.ensureNamespace(namespace);
        this.events.emit("tasks", namespace, data);
        break;
      case "tools":
        this.ensureNamespace(namespace);
        this.events.emit("tools", namespace, toolsData(data));
        break;
      case "checkpoints": {
        const envelope = checkpointEnvelope(data);
        if (envelope !== undefined) {
          this.ensureNamespace(namespace);
          this.events.emit("checkpoints", namespace, envelope);
        }
        break;
      }
      default:
        if (method.startsWith("custom:") && method.length > "custom:".length) {
          this.ensureNamespace(namespace);
          this.events.emit("custom", namespace, { name: method.slice("custom:".length), payload: data });
        }
      // Other modes (events, debug, feedback, ...) have no v2 channel.
    }
    return this.events.taken();
  }

  private currentRun(runId?: string): RunState {
    // A log read from part-way through a run: its events without its start.
    if (this.run === undefined) this.run = newRunState(runId ?? "");
    return this.run;
  }

  // Runs and subgraphs.

  private startRun(data: unknown): void {
    const meta = isObject(data) ? data : {};
    const runId = str(meta.run_id) ?? "";
    // A run whose end never reached the log (or one retried) starts over.
    this.run = undefined;
    this.currentRun(runId);
    this.events.emit("lifecycle", [], {
      event: "running",
      run_id: runId,
      ...(typeof meta.attempt === "number" ? { attempt: meta.attempt } : {}),
    });
  }

  private failRun(data: unknown): void {
    const run = this.currentRun();
    const message = errorMessageOf(data);
    for (const state of [...run.messages.values()]) this.messages.abort(run, state, message);
    this.closeNamespaces(run, "failed");
    if (!run.terminal) {
      run.terminal = true;
      this.events.emit("lifecycle", [], { event: "failed", run_id: run.runId, error: message });
    }
  }

  private endRun(data: unknown): void {
    const end = isObject(data) ? data : {};
    const run = this.currentRun(str(end.run_id));
    for (const state of [...run.messages.values()]) this.messages.finish(run, state);
    const status = lifecycleOfRunStatus(runStatusName(str(end.status)), run.interruptIds.size > 0);
    this.closeNamespaces(run, status);
    if (!run.terminal) this.events.emit("lifecycle", [], { event: status, run_id: run.runId || str(end.run_id) || "" });
    this.run = undefined;
  }

  /** Announces (`started`) each subgraph namespace the first time one of its events comes. */
  private ensureNamespace(namespace: Namespace): void {
    if (namespace.length === 0) return;
    const run = this.currentRun();
    for (let length = 1; length <= namespace.length; length++) {
      const prefix = namespace.slice(0, length);
      const key = nsKey(prefix);
      if (run.namespaces.has(key)) continue;
      run.namespaces.set(key, prefix);
      this.events.emit("lifecycle", prefix, { event: "started", graph_name: segmentName(prefix.at(-1) ?? "") });
    }
  }

  /** Ends open subgraph namespaces under `parent` (all when absent) with a status, deepest first. */
  private closeNamespaces(run: RunState, status: AgentStatus, under?: { parent: Namespace; node: string }): void {
    const closing = [...run.namespaces.values()].filter((ns) => {
      if (under === undefined) return true;
      const { parent, node } = under;
      if (ns.length <= parent.length || !parent.every((segment, i) => ns[i] === segment)) return false;
      return segmentName(ns[parent.length] ?? "") === node;
    });
    closing.sort((a, b) => b.length - a.length);
    for (const ns of closing) {
      run.namespaces.delete(nsKey(ns));
      this.events.emit("lifecycle", ns, { event: status, graph_name: segmentName(ns.at(-1) ?? "") });
    }
  }

  // State channels.

  private emitInterrupts(namespace: Namespace, value: unknown): void {
    const run = this.currentRun();
    const interrupts = Array.isArray(value) ? value : value === undefined ? [] : [value];
    for (const [i, interrupt] of interrupts.entries()) {
      const record: Json = isObject(interrupt) ? interrupt : { value: interrupt };
      // Interrupts of older LangGraph versions have no id: one is made up, stable for the log.
      const id = str(record.id) ?? str(record.interrupt_id) ?? madeUpInterruptId(run.runId, namespace, i);
      if (run.interruptIds.has(id)) continue;
      run.interruptIds.add(id);
      this.events.emit("input.requested", namespace, { interrupt_id: id, payload: "value" in record ? record.value : undefined });
    }
  }

  private onValues(namespace: Namespace, data: unknown): void {
    this.ensureNamespace(namespace);
    let values = data;
    if (isObject(data) && "__interrupt__" in data) {
      const { __interrupt__: interrupts, ...rest } = data;
      this.emitInterrupts(namespace, interrupts);
      values = rest;
    }
    const run = this.currentRun();
    const ids = messageIdsIn(values);
    for (const state of [...run.messages.values()]) {
      if (nsKey(state.namespace) === nsKey(namespace) && ids.has(state.id)) this.messages.finish(run, state);
    }
    if (isObject(values) && Object.keys(values).length === 0) return;
    this.events.emit("values", namespace, values);
  }

  private onUpdates(namespace: Namespace, data: unknown): void {
    this.ensureNamespace(namespace);
    if (!isObject(data)) return;
    const run = this.currentRun();
    for (const [node, value] of Object.entries(data)) {
      if (node === "__interrupt__") {
        this.emitInterrupts(namespace, value);
        continue;
      }
      // The node's step is over: so are its messages and its subgraphs.
      const ids = messageIdsIn(value);
      for (const state of [...run.messages.values()]) {
        if (nsKey(state.namespace) === nsKey(namespace) && (state.node === node || ids.has(state.id))) {
          this.messages.finish(run, state);
        }
      }
      this.closeNamespaces(run, "completed", { parent: namespace, node });
      this.events.emit("updates", namespace, { node, values: isObject(value) ? value : { value } }, node);
    }
  }
}
