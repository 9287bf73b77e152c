/**
 * The events of LangGraph custom auth (`@langchain/langgraph-sdk/auth`): each resource and the
 * actions a handler can be registered for.
 */
export const AUTH_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  threads: ["create", "read", "update", "delete", "search", "create_run"],
  assistants: ["create", "read", "update", "delete", "search"],
  crons: ["create", "read", "update", "delete", "search"],
  store: ["put", "get", "search", "list_namespaces", "delete"],
};

export function isKnownResource(resource: string): boolean {
  return Object.hasOwn(AUTH_ACTIONS, resource);
}

export function isKnownAction(resource: string, action: string): boolean {
  return AUTH_ACTIONS[resource]?.includes(action) ?? false;
}

/** Whether `on(key, ...)` names something that can happen: "*", a resource, "*:action" or "resource:action". */
export function isKnownEvent(key: string): boolean {
  if (key === "*" || isKnownResource(key)) return true;
  const [resource = "", action = "", ...rest] = key.split(":");
  if (rest.length > 0) return false;
  if (resource === "*") return Object.values(AUTH_ACTIONS).some((actions) => actions.includes(action));
  return isKnownAction(resource, action);
}

/**
 * The key of the one handler that runs for an event: the first registered of `resource:action`,
 * `resource`, `*:action`, `*` (upstream's order); undefined when none is.
 */
export function chooseHandler(registered: Record<string, unknown> | undefined, resource: string, action: string) {
  if (!registered) return undefined;
  return [`${resource}:${action}`, resource, `*:${action}`, "*"].find((key) => typeof registered[key] === "function");
}
