import { MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import type { MultitaskName } from "../store/run-rows.js";

/** Stored multitask strategy names to the proto enum, and back (unset means enqueue, the default). */
export const MULTITASK_TO_PROTO: Record<MultitaskName, MultitaskStrategy> = {
  reject: MultitaskStrategy.REJECT,
  interrupt: MultitaskStrategy.INTERRUPT,
  rollback: MultitaskStrategy.ROLLBACK,
  enqueue: MultitaskStrategy.ENQUEUE,
};

export const MULTITASK_FROM_PROTO: Record<MultitaskStrategy, MultitaskName> = {
  [MultitaskStrategy.UNSPECIFIED]: "enqueue",
  [MultitaskStrategy.REJECT]: "reject",
  [MultitaskStrategy.INTERRUPT]: "interrupt",
  [MultitaskStrategy.ROLLBACK]: "rollback",
  [MultitaskStrategy.ENQUEUE]: "enqueue",
};
