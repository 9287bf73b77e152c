import { describe, expect, it } from "vitest";
import { configOf } from "./mode";

describe("configOf", () => {
  it("reads the platform's mode, and keeps the rest of the document", () => {
    const body = { mode: "platform", oidc: { issuer: "https://id.example", clientId: "portal" } };
    expect(configOf(body)).toEqual({ mode: "platform", raw: body });
  });

  it("takes anything else for one deployment's portal", () => {
    for (const body of [{ mode: "deployment" }, { mode: "PLATFORM" }, {}, [], null, undefined, "platform", 42]) {
      expect(configOf(body).mode).toBe("deployment");
    }
    expect(configOf(["platform"]).raw).toEqual({});
  });
});
