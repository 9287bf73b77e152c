// Who the portal calls the server as: a secret the user gives, kept for the life of the browser
// tab (sessionStorage, never localStorage: closing the tab signs out). It is either an API key
// (sent as `x-api-key`) or a bearer token (sent as `Authorization: Bearer …`, for projects whose
// custom auth reads a token). credentialHeaders() is the one place the transport takes the
// caller's identity from, and the login form the one place it is asked for.
import { useSyncExternalStore } from "react";

/** How the secret is sent. */
export type CredentialKind = "api-key" | "bearer";

const STORAGE_KEYS: Record<CredentialKind, string> = {
  "api-key": "langopen.apiKey",
  bearer: "langopen.bearerToken",
};

export const CREDENTIAL_NAMES: Record<CredentialKind, string> = {
  "api-key": "API key",
  bearer: "bearer token",
};

export interface LoginPrompt {
  /** "required": a call needed a credential and had none; "rejected": the one it had was refused. */
  reason: "required" | "rejected";
  /** With "rejected": the kind of credential the server refused. */
  refused?: CredentialKind;
}

export interface Session {
  /** The secret calls carry (an API key or a bearer token, as `kind` says); null when signed out. */
  apiKey: string | null;
  kind: CredentialKind;
  /** Set while the login form should show. */
  prompt: LoginPrompt | null;
}

function readStored(): { apiKey: string | null; kind: CredentialKind } {
  try {
    const token = sessionStorage.getItem(STORAGE_KEYS.bearer);
    if (token !== null) return { apiKey: token, kind: "bearer" };
    return { apiKey: sessionStorage.getItem(STORAGE_KEYS["api-key"]), kind: "api-key" };
  } catch {
    // Storage can be disabled (privacy settings): the secret then lives in memory only.
    return { apiKey: null, kind: "api-key" };
  }
}

function writeStored(secret: string | null, kind: CredentialKind): void {
  try {
    for (const key of Object.values(STORAGE_KEYS)) sessionStorage.removeItem(key);
    if (secret !== null) sessionStorage.setItem(STORAGE_KEYS[kind], secret);
  } catch {
    // As above: memory only.
  }
}

let session: Session = { ...readStored(), prompt: null };
const listeners = new Set<() => void>();
/** Calls that failed Unauthenticated and wait for a sign-in to be retried. */
let waiters: Array<{ resolve: () => void; reject: (reason: unknown) => void }> = [];

function update(next: Session): void {
  session = next;
  for (const listener of listeners) listener();
}

export function getSession(): Session {
  return session;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSession(): Session {
  return useSyncExternalStore(subscribeSession, getSession);
}

/** The headers that identify the caller on every call. */
export function credentialHeaders(): Record<string, string> {
  if (!session.apiKey) return {};
  return session.kind === "bearer" ? { authorization: `Bearer ${session.apiKey}` } : { "x-api-key": session.apiKey };
}

/** Signs in with an API key (the default) or a bearer token; the calls waiting for it go again. */
export function signIn(secret: string, kind: CredentialKind = "api-key"): void {
  writeStored(secret, kind);
  update({ apiKey: secret, kind, prompt: null });
  const waiting = waiters;
  waiters = [];
  for (const waiter of waiting) waiter.resolve();
}

export function signOut(): void {
  writeStored(null, session.kind);
  update({ apiKey: null, kind: session.kind, prompt: null });
}

/** Shows the login form; `sentKey` is the secret the refused call carried (null: none). */
export function requireLogin(sentKey: string | null): void {
  // Someone signed in while the call was in flight: the caller retries with the new secret.
  if (sentKey !== session.apiKey && session.apiKey !== null) return;
  if (session.prompt === null || sentKey !== null) {
    update({
      ...session,
      prompt: sentKey ? { reason: "rejected", refused: session.kind } : { reason: "required" },
    });
  }
}

/** Opens the login form on request (a "Sign in" button): to give a credential, or another one. */
export function showLogin(): void {
  update({
    ...session,
    prompt: session.apiKey ? { reason: "rejected", refused: session.kind } : { reason: "required" },
  });
}

/** Closes the login form without signing in: the calls waiting for it fail as they were. */
export function dismissLogin(): void {
  const waiting = waiters;
  waiters = [];
  update({ ...session, prompt: null });
  for (const waiter of waiting) waiter.reject(new Error("sign-in dismissed"));
}

/**
 * Resolves once someone signs in (at once when the secret changed since `sentKey` was sent);
 * rejects when the call is aborted or the login form is dismissed.
 */
export function waitForLogin(sentKey: string | null, signal: AbortSignal): Promise<void> {
  if (session.apiKey !== null && session.apiKey !== sentKey) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      waiters = waiters.filter((waiter) => waiter !== entry);
      reject(signal.reason);
    };
    const entry = {
      resolve: () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      reject: (reason: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(reason);
      },
    };
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    waiters.push(entry);
  });
}
