import { MAX_TARBALL_BYTES } from "@langopen/builder";
import { describe, expect, it } from "vitest";
import { MAX_UPLOAD_BYTES } from "./form-fields";

describe("the platform forms' upload limit", () => {
  it("is the control plane's: the form refuses no archive the server would take, and none it would refuse", () => {
    expect(MAX_UPLOAD_BYTES).toBe(MAX_TARBALL_BYTES);
  });
});
