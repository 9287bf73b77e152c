// The alert rules and the dashboard the chart ships (charts/langopen/files/, rendered as its PrometheusRule and a
// ConfigMap for Grafana): promtool accepts the rules and their unit tests pass (each alert fires on the series that should
// fire it and stays quiet on healthy ones); the dashboard is a Grafana dashboard whose every panel queries Prometheus.
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ALERTS_DIR = fileURLToPath(new URL("../../../charts/langopen/files/", import.meta.url));
const DASHBOARD = fileURLToPath(new URL("../../../charts/langopen/files/dashboard.json", import.meta.url));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim() !== "";

const promtool = (...args: string[]) => spawnSync("promtool", args, { cwd: ALERTS_DIR, encoding: "utf8" });

describe("alert rules and dashboard", () => {
  it.skipIf(!hasPromtool && !process.env.CI)("has alert rules promtool accepts, whose unit tests pass", () => {
    const checked = promtool("check", "rules", "alerts.yml");
    expect(checked.error).toBeUndefined();
    expect(checked.stdout).toContain("SUCCESS: 6 rules found");
    expect(checked.status).toBe(0);
    const tested = promtool("test", "rules", "alerts.test.yml");
    expect(`${tested.stdout}${tested.stderr}`).toContain("SUCCESS");
    expect(tested.status).toBe(0);
  });

  it("has a dashboard whose every panel queries Prometheus", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as {
      uid: string;
      panels: Array<{ title: string; datasource: { type: string }; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.uid).toBe("langopen-overview");
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.type, panel.title).toBe("prometheus");
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) expect(expr, panel.title).toMatch(/langopen_/);
    }
  });
});
