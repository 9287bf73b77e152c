/**
 * How runtime processes are isolated: `node` (the default) runs them under Node's permission
 * model, with a scrubbed environment and, when started as root, as an unprivileged user; `none`
 * runs them as before (for debugging a project that the sandbox refuses); `gvisor` runs each one
 * inside gVisor (`runsc`, as root) with Node's permission model inside as a second layer.
 */
export const SANDBOX_MODES = ["node", "none", "gvisor"] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** The unprivileged user a root launcher runs graph code as: `nobody` on Debian and most distributions. */
export const DEFAULT_SANDBOX_ID = 65534;
