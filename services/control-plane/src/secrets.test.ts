import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { maskSecret, SecretBox } from "./secrets.js";

describe("secret box", () => {
  const box = SecretBox.fromText(randomBytes(32).toString("base64"));

  it("opens what it sealed, only for the same deployment and name", () => {
    const sealed = box.seal("s3cr3t", "dep-1", "TOKEN");
    expect(sealed.includes(Buffer.from("s3cr3t"))).toBe(false);
    expect(box.open(sealed, "dep-1", "TOKEN")).toBe("s3cr3t");
    expect(() => box.open(sealed, "dep-2", "TOKEN")).toThrow();
    expect(() => box.open(sealed, "dep-1", "OTHER")).toThrow();
    const altered = Buffer.from(sealed);
    altered[14] = (altered[14] as number) ^ 1;
    expect(() => box.open(altered, "dep-1", "TOKEN")).toThrow();
    // A fresh nonce each time: the same value never seals to the same bytes.
    expect(box.seal("s3cr3t", "dep-1", "TOKEN").equals(sealed)).toBe(false);
  });

  it("refuses keys of the wrong size and reads hex or base64", () => {
    expect(() => SecretBox.fromText("short")).toThrow(/32 bytes/);
    const hex = randomBytes(32).toString("hex");
    expect(SecretBox.fromText(hex).derive("x")).toBe(SecretBox.fromText(Buffer.from(hex, "hex").toString("base64")).derive("x"));
    expect(box.derive("a")).not.toBe(box.derive("b"));
  });

  it("masks every value", () => {
    expect(maskSecret("abc")).toBe("****");
    expect(maskSecret("12345678")).toBe("****");
    expect(maskSecret("s3cr3t-value")).toBe("****ue");
  });
});
