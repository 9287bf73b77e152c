// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from "vitest";

// The module reads sessionStorage once, when loaded: each test loads it afresh.
async function load() {
  vi.resetModules();
  return import("./session");
}

beforeEach(() => sessionStorage.clear());

describe("session", () => {
  it("sends an API key as x-api-key and keeps it in the tab's storage", async () => {
    const session = await load();
    expect(session.credentialHeaders()).toEqual({});
    session.signIn("sk-1");
    expect(session.credentialHeaders()).toEqual({ "x-api-key": "sk-1" });
    expect(sessionStorage.getItem("langopen.apiKey")).toBe("sk-1");
    expect((await load()).getSession()).toMatchObject({ apiKey: "sk-1", kind: "api-key" });
  });

  it("sends a bearer token as Authorization, and replaces a key with it", async () => {
    const session = await load();
    session.signIn("sk-1");
    session.signIn("tok", "bearer");
    expect(session.credentialHeaders()).toEqual({ authorization: "Bearer tok" });
    expect(sessionStorage.getItem("langopen.apiKey")).toBeNull();
    expect((await load()).getSession()).toMatchObject({ apiKey: "tok", kind: "bearer" });
  });

  it("forgets the secret on sign-out", async () => {
    const session = await load();
    session.signIn("tok", "bearer");
    session.signOut();
    expect(session.credentialHeaders()).toEqual({});
    expect(sessionStorage.length).toBe(0);
  });

  it("says which kind of credential the server refused", async () => {
    const session = await load();
    session.requireLogin(null);
    expect(session.getSession().prompt).toEqual({ reason: "required" });
    session.signIn("tok", "bearer");
    session.requireLogin("tok");
    expect(session.getSession().prompt).toEqual({ reason: "rejected", refused: "bearer" });
  });

  it("lets the calls waiting for a sign-in go once signed in, and fail when dismissed", async () => {
    const session = await load();
    session.requireLogin(null);
    const waiting = session.waitForLogin(null, new AbortController().signal);
    session.signIn("sk-2");
    await expect(waiting).resolves.toBeUndefined();
    session.requireLogin("sk-2");
    const dismissed = session.waitForLogin("sk-2", new AbortController().signal);
    session.dismissLogin();
    await expect(dismissed).rejects.toThrow("dismissed");
  });
});
