import { describe, expect, it } from "vitest";
import { gitUrlProblem, redactUrl } from "./source.js";
import { jsonErrorOffset, lineAt, normalizeConfigPath } from "./validate.js";

describe("gitUrlProblem", () => {
  it.each([
    ["https://github.com/acme/agent.git", false],
    ["https://user:token@github.com/acme/agent.git", false],
    ["ssh://git@github.com/acme/agent.git", false],
    ["git@github.com:acme/agent.git", false],
    ["file:///srv/repo", true],
    ["/srv/repo", true],
  ])("accepts %s", (url, allowFileUrls) => {
    expect(gitUrlProblem(url, allowFileUrls)).toBeUndefined();
  });

  it.each([
    ["", false],
    ["file:///srv/repo", false],
    ["/srv/repo", false],
    ["../repo", false],
    ["-uhello", true],
    ["--upload-pack=touch /tmp/x", true],
    ["ext::sh -c id", true],
    ["ext::id", true],
    ["fd::3", true],
    ["http://example.com/repo", true],
    ["git://example.com/repo", true],
    ["ftp://example.com/repo", true],
    ["ssh://-oProxyCommand=id/x", true],
    ["git@host:-repo", true],
    ["host:repo", true],
    ["https://example.com/a\nb", true],
  ])("refuses %j", (url, allowFileUrls) => {
    expect(gitUrlProblem(url, allowFileUrls)).toBeDefined();
  });

  it("masks passwords in what it shows", () => {
    expect(redactUrl("https://user:s3cret@example.com/r.git")).toBe("https://user:***@example.com/r.git");
    expect(redactUrl("https://token@example.com/r.git")).toBe("https://token@example.com/r.git");
    expect(gitUrlProblem("ftp://user:s3cret@example.com/r", false)).not.toContain("s3cret");
  });
});

describe("jsonErrorOffset", () => {
  it("agrees with JSON.parse on what is valid", () => {
    for (const text of ['{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"]}', " [] ", '"s"', "0"]) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(jsonErrorOffset(text)).toBe(-1);
    }
  });

  it.each([
    ['{\n  "a": 1,\n}', 3],
    ['{\n  "a": tru\n}', 2],
    ['{\n  "a" 1\n}', 2],
    ['{\n  "a": "x\n"}', 2],
    ['{\n  "a": 1\n', 3],
    ["", 1],
    ['{"a": 1} x', 1],
    ['{\n\n  "a": 01\n}', 3],
  ])("finds the line of the error in %j", (text, line) => {
    expect(() => JSON.parse(text)).toThrow();
    const at = jsonErrorOffset(text);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lineAt(text, at)).toBe(line);
  });
});

describe("normalizeConfigPath", () => {
  it("keeps paths inside the source", () => {
    expect(normalizeConfigPath("")).toBe("langgraph.json");
    expect(normalizeConfigPath("./apps/a/../b/langgraph.json")).toBe("apps/b/langgraph.json");
    expect(normalizeConfigPath("/etc/langgraph.json")).toBeUndefined();
    expect(normalizeConfigPath("../langgraph.json")).toBeUndefined();
    expect(normalizeConfigPath("a/../../langgraph.json")).toBeUndefined();
  });
});
