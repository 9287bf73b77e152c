// Which portal this is: one deployment's agents (served by its gateway) or the platform's
// deployments, keys, secrets and audit log (served by the control plane). The server says so at
// /portal/config.json; the app reads it once, at start, and renders its routes after.

export type PortalMode = "deployment" | "platform";

export interface PortalConfig {
  mode: PortalMode;
  /** The whole document as the server sent it (empty when it could not be read), for other settings. */
  raw: Record<string, unknown>;
}

const CONFIG_URL = `${import.meta.env.BASE_URL}config.json`;
/** Attempts when the server cannot be reached (it may be restarting) before falling back. */
const ATTEMPTS = 3;

let config: Promise<PortalConfig> | undefined;
let mode: Promise<PortalMode> | undefined;

/** The config, fetched on the first call; the same promise after that. */
export function loadConfig(): Promise<PortalConfig> {
  config ??= fetchConfig();
  return config;
}

/**
 * The mode, from loadConfig(); the same promise on every call (React's use() needs that). Once
 * settled, the promise carries its value the way React reads it, so that use() returns at once
 * instead of showing its fallback for a moment.
 */
export function loadMode(): Promise<PortalMode> {
  if (!mode) {
    const tracked: Promise<PortalMode> & { status?: "fulfilled"; value?: PortalMode } = loadConfig().then(
      (loaded) => loaded.mode,
    );
    void tracked.then((value) => {
      tracked.status = "fulfilled";
      tracked.value = value;
    });
    mode = tracked;
  }
  return mode;
}

/** What a config body says; anything but the platform's is a deployment's portal. */
export function configOf(body: unknown): PortalConfig {
  const raw = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return { mode: raw.mode === "platform" ? "platform" : "deployment", raw };
}

async function fetchConfig(): Promise<PortalConfig> {
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(CONFIG_URL, { headers: { accept: "application/json" }, cache: "no-cache" });
    } catch {
      // Unreachable: try again a little later, then show the agents' portal, as servers did before config.json.
      if (attempt >= ATTEMPTS) return configOf(undefined);
      await new Promise((resolve) => setTimeout(resolve, 400 * attempt));
      continue;
    }
    // A server older than config.json (404) serves one deployment.
    if (!response.ok) return configOf(undefined);
    try {
      return configOf(await response.json());
    } catch {
      // Not JSON (a development server answering its page): the agents' portal.
      return configOf(undefined);
    }
  }
}
