import { type Static, Type } from "typebox";
import { StringEnum } from "./common.js";

export const METRICS_FORMATS = ["prometheus", "json"] as const;

/** GET /metrics: Prometheus text exposition (the default) or the registry as JSON. */
export const MetricsQuery = Type.Object({
  format: Type.Optional(StringEnum(METRICS_FORMATS, { description: "Output format", default: "prometheus" })),
});
export type MetricsQuery = Static<typeof MetricsQuery>;
