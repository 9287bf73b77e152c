// A TypeScript auth module with a default export and no authenticate: only handlers.
import { Auth, HTTPException } from "@langchain/langgraph-sdk/auth";

interface Owned {
  metadata?: Record<string, unknown>;
}

const auth = new Auth().on(["threads:create", "assistants:create"], ({ value, user }) => {
  const owned = value as Owned;
  if (user.permissions.includes("read-only")) throw new HTTPException(403, { message: "Read-only users cannot create" });
  owned.metadata = { ...owned.metadata, owner: user.identity };
});

export default auth;
