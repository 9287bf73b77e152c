import { describe, expect, it } from "vitest";
import { startTracing, tracingEnabled, tracingRequested } from "./telemetry.js";

describe("telemetry", () => {
  it("is asked for only by an OTLP endpoint, and switched off by OTEL_SDK_DISABLED or another exporter", () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_SERVICE_NAME: "x" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
  });

  it("starts nothing when not asked, and refuses a protocol it does not speak, naming it", () => {
    expect(startTracing({ serviceName: "t", env: {} }).enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    expect(() =>
      startTracing({
        serviceName: "t",
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      }),
    ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: use http\/protobuf or http\/json/);
    expect(tracingEnabled()).toBe(false);
  });
});
