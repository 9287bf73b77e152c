import { createHash, randomBytes } from "node:crypto";
import type { RoleName } from "./store.js";

/**
 * API keys: `lok_` and 43 characters of base64url (256 random bits). Only the SHA-256 of a key is
 * stored: the key is random and long, so a plain hash cannot be reversed or guessed, and a
 * lookup by hash needs no per-key salt or slow hash.
 */
export const KEY_PREFIX = "lok_";

export function newApiKey(): { key: string; sha256: Buffer; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, sha256: hashApiKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) };
}

export const hashApiKey = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest();

/** A key given by the platform's operator (LANGOPEN_ADMIN_KEY) must be as hard to guess as a generated one. */
export function checkOperatorKey(key: string): void {
  if (key.length < 32) throw new Error("LANGOPEN_ADMIN_KEY must be at least 32 characters (e.g. `openssl rand -base64 32`)");
}

/** What each role may do; a scoped key may do it only to its deployment. */
export type Permission =
  | "deployments.read"
  | "deployments.write"
  | "deployments.create"
  | "secrets.read"
  | "secrets.write"
  | "keys.read"
  | "keys.write"
  | "audit.read";

const ROLE_PERMISSIONS: Record<RoleName, ReadonlySet<Permission>> = {
  ADMIN: new Set([
    "deployments.read",
    "deployments.write",
    "deployments.create",
    "secrets.read",
    "secrets.write",
    "keys.read",
    "keys.write",
    "audit.read",
  ]),
  DEVELOPER: new Set([
    "deployments.read",
    "deployments.write",
    "deployments.create",
    "secrets.read",
    "secrets.write",
    "audit.read",
  ]),
  VIEWER: new Set(["deployments.read", "secrets.read", "audit.read"]),
};

export const roleMay = (role: RoleName, permission: Permission): boolean => ROLE_PERMISSIONS[role].has(permission);

/** Roles a creator may hand out: never more than its own. */
export function mayGrant(creator: RoleName, granted: RoleName): boolean {
  const rank: Record<RoleName, number> = { VIEWER: 1, DEVELOPER: 2, ADMIN: 3 };
  return rank[granted] <= rank[creator];
}
