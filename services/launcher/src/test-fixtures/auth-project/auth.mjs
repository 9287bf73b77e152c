// Custom auth as LangGraph users write it: bearer tokens, an owner stamped on what a user creates
// and filtered on everywhere else, store namespaces scoped to the user.
import { Auth, HTTPException } from "@langchain/langgraph-sdk/auth";

const USERS = {
  "token-alice": { identity: "alice", permissions: ["assistants:write"], team: "red" },
  "token-bob": { identity: "bob", permissions: ["assistants:write"] },
  "token-reader": { identity: "reader", permissions: [] },
  "token-string": "stringy",
  "token-broken": 42,
};

const stamp = (value, user) => {
  value.metadata = { ...(value.metadata ?? {}), owner: user.identity };
};

export const auth = new Auth()
  .authenticate(async (request) => {
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer\s+/i, "");
    if (token === "token-crash") throw new Error("the auth module failed: internal detail");
    if (!Object.hasOwn(USERS, token)) {
      throw new HTTPException(401, { message: "Invalid token", headers: { "WWW-Authenticate": "Bearer" } });
    }
    return USERS[token];
  })
  .on("assistants:create", ({ value, user, permissions }) => {
    if (!permissions.includes("assistants:write")) throw new HTTPException(403, { message: "Needs assistants:write" });
    stamp(value, user);
    // A filter here decides what an existing id may be answered with (another user's: 409).
    return { owner: user.identity };
  })
  .on(["threads", "assistants"], ({ action, value, user }) => {
    if (["create", "create_run", "update"].includes(action)) stamp(value, user);
    return { owner: user.identity };
  })
  .on("store", ({ user }) => ({ namespace: { $contains: user.identity } }))
  .on("crons:delete", () => false)
  .on("*", ({ user }) => ({ owner: user.identity }));
