// Who the portal calls the server as. Today that is an API key the user types, kept for the
// life of the browser tab (sessionStorage, never localStorage: closing the tab signs out).
// OIDC will be a second kind of credential kept here: credentialHeaders() is the one place the
// transport takes the caller's identity from, and the login form the one place it is asked for.
import { useSyncExternalStore } from "react";

const STORAGE_KEY = "langopen.apiKey";

export interface LoginPrompt {
  /** "required": a call needed a key and had none; "rejected": the key it had was refused. */
  reason: "required" | "rejected";
}

export interface Session {
  apiKey: string | null;
  /** Set while the login form should show. */
  prompt: LoginPrompt | null;
}

function readStoredKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (privacy settings): the key then lives in memory only.
    return null;
  }
}

function writeStoredKey(apiKey: string | null): void {
  try {
    if (apiKey === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, apiKey);
  } catch {
    // As above: memory only.
  }
}

let session: Session = { apiKey: readStoredKey(), prompt: null };
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
  return session.apiKey ? { "x-api-key": session.apiKey } : {};
}

export function signIn(apiKey: string): void {
  writeStoredKey(apiKey);
  update({ apiKey, prompt: null });
  const waiting = waiters;
  waiters = [];
  for (const waiter of waiting) waiter.resolve();
}

export function signOut(): void {
  writeStoredKey(null);
  update({ apiKey: null, prompt: null });
}

/** Shows the login form; `sentKey` is the key the refused call carried (null: none). */
export function requireLogin(sentKey: string | null): void {
  // Someone signed in while the call was in flight: the caller retries with the new key.
  if (sentKey !== session.apiKey && session.apiKey !== null) return;
  if (session.prompt === null || sentKey !== null) update({ ...session, prompt: { reason: sentKey ? "rejected" : "required" } });
}

/** Opens the login form on request (a "Sign in" button): to give a key, or another one. */
export function showLogin(): void {
  update({ ...session, prompt: { reason: session.apiKey ? "rejected" : "required" } });
}

/** Closes the login form without signing in: the calls waiting for it fail as they were. */
export function dismissLogin(): void {
  const waiting = waiters;
  waiters = [];
  update({ ...session, prompt: null });
  for (const waiter of waiting) waiter.reject(new Error("sign-in dismissed"));
}

/**
 * Resolves once someone signs in (at once when the key changed since `sentKey` was sent);
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
