import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";

/**
 * A run's status by the name the public API, the run rows and the run events all spell it, and its
 * value in the protobuf contract: the one table both sides of the contract (api-server, gateway) use.
 */
export const RUN_STATUS_BY_NAME = {
  pending: RunStatus.PENDING,
  running: RunStatus.RUNNING,
  success: RunStatus.SUCCESS,
  error: RunStatus.ERROR,
  timeout: RunStatus.TIMEOUT,
  interrupted: RunStatus.INTERRUPTED,
} as const satisfies Record<string, RunStatus>;

/** The name of a run status; undefined for RunStatus.UNSPECIFIED and values this version does not know. */
export const RUN_STATUS_NAME: Readonly<Partial<Record<RunStatus, keyof typeof RUN_STATUS_BY_NAME>>> = Object.fromEntries(
  Object.entries(RUN_STATUS_BY_NAME).map(([name, value]) => [value, name]),
);
