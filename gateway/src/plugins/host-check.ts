import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { StartupError } from "@langopen/common";
import fp from "fastify-plugin";
import { RequestRefused } from "./error-handler.js";

/*
 * The Host check. A web page the user visits can make its own domain resolve to 127.0.0.1 (DNS
 * rebinding) and then talk to a server on the user's machine as if it were same-origin: the
 * browser still sends the page's domain in `Host`. So a request is served only when its `Host`
 * names this server: a loopback name, the address the server listens on, or a host the operator
 * configured (langgraph.json `http.allowed_hosts`, LANGOPEN_ALLOWED_HOSTS). Behind an ingress
 * that already routes by host, `*` turns the check off.
 */

/** The entry of an allow-list that turns the Host check off. */
export const ANY_HOST = "*";

/** One entry of an allow-list: a name or `*.suffix`, with a port or any. */
interface HostRule {
  /** The exact name, or the suffix (with its leading dot) of a `*.suffix` rule. */
  name: string;
  wildcard: boolean;
  port: string | undefined;
}

/** A `Host` value (or allow-list entry) as name and port: lower case, IPv6 without brackets, no trailing dot. */
export function splitHost(value: string): { name: string; port: string | undefined } {
  const text = value.trim().toLowerCase();
  let name: string;
  let port: string | undefined;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    name = end < 0 ? text : text.slice(1, end);
    const rest = end < 0 ? "" : text.slice(end + 1);
    port = rest.startsWith(":") ? rest.slice(1) : undefined;
  } else {
    const colon = text.lastIndexOf(":");
    // Two colons or more: a bare IPv6 address, which carries no port.
    if (colon >= 0 && text.indexOf(":") === colon) {
      name = text.slice(0, colon);
      port = text.slice(colon + 1);
    } else {
      name = text;
    }
  }
  return { name: name.replace(/\.$/, ""), port: port === "" ? undefined : port };
}

/** Whether the name of a Host (as splitHost gives it) stands for this machine's loopback interface. */
function isLoopbackName(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost") || name === "127.0.0.1" || name === "::1";
}

/** The entries of a comma-separated list such as LANGOPEN_ALLOWED_HOSTS, trimmed, empty ones left out. */
export function parseHostList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** Whether an allow-list keeps the Host check on (it does unless it holds `*`). */
export function hostCheckEnabled(allowedHosts: readonly string[]): boolean {
  return !allowedHosts.includes(ANY_HOST);
}

function ruleOf(entry: string): HostRule {
  const { name, port } = splitHost(entry);
  if (name.startsWith("*.")) return { name: name.slice(1), wildcard: true, port };
  return { name, wildcard: false, port };
}

function matches(rule: HostRule, name: string, port: string | undefined): boolean {
  if (rule.port !== undefined && rule.port !== port) return false;
  return rule.wildcard ? name.endsWith(rule.name) && name.length > rule.name.length : name === rule.name;
}

/** The addresses a listening server answers on: its own, or every local one when it listens on all. */
function boundAddresses(address: AddressInfo | string | null): string[] {
  if (address === null || typeof address === "string") return [];
  if (address.address !== "0.0.0.0" && address.address !== "::") return [address.address.toLowerCase()];
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((iface) => (iface ? [iface.address.toLowerCase()] : []));
}

/** Decides whether a `Host` header names this server. */
export interface HostPolicy {
  /** False when the allow-list holds `*`: every Host is served. */
  readonly enabled: boolean;
  allows(host: string | undefined): boolean;
  /** Adds the addresses of the listening server (called once it listens). */
  learnBoundAddress(address: AddressInfo | string | null): void;
}

/** A Host policy over loopback names, the configured entries and (once known) the bound address. */
export function createHostPolicy(allowedHosts: readonly string[]): HostPolicy {
  const enabled = hostCheckEnabled(allowedHosts);
  const rules = allowedHosts.filter((entry) => entry !== ANY_HOST).map(ruleOf);
  const bound = new Set<string>();
  return {
    enabled,
    allows(host) {
      if (!enabled) return true;
      // HTTP/1.1 requires Host (Node refuses requests without one); a browser always sends it.
      if (host === undefined || host === "") return false;
      const { name, port } = splitHost(host);
      if (port !== undefined && !/^\d{1,5}$/.test(port)) return false;
      if (isLoopbackName(name) || bound.has(name)) return true;
      return rules.some((rule) => matches(rule, name, port));
    },
    learnBoundAddress(address) {
      for (const entry of boundAddresses(address)) bound.add(entry);
    },
  };
}

export interface HostCheckOptions {
  /** Hosts served besides loopback names and the bound address: `name`, `name:port`, `*.suffix`; `*`: all. */
  allowedHosts?: readonly string[];
}

/** Refuses, before anything else happens, a request whose `Host` does not name this server (403). */
export const hostCheckPlugin = fp<HostCheckOptions>(
  async (fastify, { allowedHosts = [] }) => {
    const policy = createHostPolicy(allowedHosts);
    if (!policy.enabled) return;
    fastify.addHook("onListen", (done) => {
      policy.learnBoundAddress(fastify.server.address());
      done();
    });
    fastify.addHook("onRequest", (request, _reply, done) => {
      const { host } = request.headers;
      if (policy.allows(host)) return done();
      // The Host is logged for the operator, never echoed to the client.
      request.log.warn({ host }, "Refused a request for a host this server does not serve; see LANGOPEN_ALLOWED_HOSTS");
      done(new RequestRefused(403, "Host not allowed"));
    });
  },
  { name: "host-check", fastify: "5.x" },
);

/** Whether a listen address is reachable only from this machine. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare) || /^::ffff:127(\.\d{1,3}){3}$/.test(bare);
}

export interface BindingChoice {
  /** The address the server is about to listen on (HOST). */
  host: string;
  /** Whether requests must authenticate (API keys or the project's custom auth). */
  authConfigured: boolean;
  /** LANGOPEN_ALLOW_UNAUTHENTICATED: listen on another interface without authentication, on purpose. */
  allowUnauthenticated: boolean;
}

/**
 * Refuses (StartupError) to serve the API without authentication on an interface other machines
 * can reach, unless asked for by name: such a server hands every thread, run and stored item to
 * anyone on the network.
 */
export function assertSafeBinding({ host, authConfigured, allowUnauthenticated }: BindingChoice): void {
  if (authConfigured || allowUnauthenticated || isLoopbackAddress(host)) return;
  throw new StartupError(
    `Refusing to listen on ${host} without authentication: anyone who can reach this address could use the API. ` +
      "Listen on a loopback address (HOST=127.0.0.1), configure API keys (LANGOPEN_API_KEYS or LANGOPEN_API_KEYS_FILE) " +
      "or custom auth (auth.path in langgraph.json), or set LANGOPEN_ALLOW_UNAUTHENTICATED=true to serve it without " +
      "authentication on purpose.",
  );
}
