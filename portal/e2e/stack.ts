// The server the portal's browser tests open: the launcher (what `npm start` runs) on its own
// database of the harness's Postgres and Redis, serving the test graphs (echo, steps, slow,
// interrupt, parent, chat, blocking) and the built portal at /portal/.
import { startTestStack, TEST_GRAPHS, type TestStack } from "../../services/launcher/src/test-fixtures/stack.js";

export interface PortalStack {
  stack: TestStack;
  /** The portal's root, e.g. http://127.0.0.1:PORT/portal/ */
  portalUrl: string;
  stop(): Promise<void>;
}

/**
 * The test graphs served with the portal; `apiKeys` (`name=key,...`) or `oidc` (a provider's
 * issuer and the portal's client id) turn sign-in on.
 */
export async function startPortalStack(
  options: { apiKeys?: string; oidc?: { issuer: string; clientId: string }; configPath?: string } = {},
): Promise<PortalStack> {
  const stack = await startTestStack(options.configPath ?? TEST_GRAPHS, {
    launcher: { ...(options.apiKeys && { apiKeys: options.apiKeys }), ...(options.oidc && { oidc: options.oidc }) },
  });
  return { stack, portalUrl: `${stack.url}/portal/`, stop: () => stack.stop() };
}
