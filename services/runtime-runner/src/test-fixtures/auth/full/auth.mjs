// A project's custom auth written with the SDK's Auth class. The bearer token picks what
// authenticate does, and fields of the event's value pick what the handlers do, so that each
// test chooses its case through the request alone.
import { Auth, HTTPException } from "@langchain/langgraph-sdk/auth";

/** An HTTPException of another copy of the SDK: the same class name and fields, another class. */
class ForeignHTTPException extends Error {
  constructor(status, options = {}) {
    super(options.message ?? "");
    this.status = status;
    this.headers = options.headers ?? {};
  }
}
Object.defineProperty(ForeignHTTPException, "name", { value: "HTTPException" });

/** Records which handler ran in the value, which the runtime sends back as the handler left it. */
function stamp(value, handler) {
  value.ran = [...(value.ran ?? []), handler];
}

const answers = {
  undefined: () => undefined,
  null: () => null,
  true: () => true,
  false: () => false,
  filter: ({ user }) => ({ owner: user.identity, tags: { $contains: "shared" } }),
  string: () => "owner",
  number: () => 1,
  array: () => [],
  date: () => new Date(0),
  echo: ({ event, resource, action, user, permissions }) => ({
    event,
    resource,
    action,
    identity: user.identity,
    org: user.org ?? null,
    permissions,
  }),
};

export const auth = new Auth()
  .authenticate(async (request) => {
    const header = request.headers.get("authorization");
    if (!header) {
      throw new HTTPException(401, { message: "Missing token", headers: { "WWW-Authenticate": 'Bearer realm="langopen"' } });
    }
    const token = header.replace(/^Bearer /, "");
    switch (token) {
      case "alice":
        return "alice";
      case "bob":
        return { identity: "bob", permissions: ["threads:write", "assistants:read"], org: "acme" };
      case "carol":
        return { identity: "carol", display_name: "Carol", is_authenticated: false };
      case "echo": {
        const url = new URL(request.url);
        return {
          identity: `${request.method} ${url.pathname}${url.search}`,
          origin: url.origin,
          tenant: request.headers.get("x-tenant"),
        };
      }
      case "teapot":
        throw new HTTPException(418);
      case "blank":
        throw new HTTPException(401, { message: "" });
      case "crash":
        throw new Error("the key server password is hunter2");
      case "number":
        return 42;
      case "nameless":
        return { name: "no identity here" };
      case "bad-permissions":
        return { identity: "mallory", permissions: "admin" };
      default:
        throw new HTTPException(401, { message: "Invalid token" });
    }
  })
  .on("threads:create", ({ value, user }) => {
    stamp(value, "threads:create");
    value.metadata = { ...value.metadata, owner: user.identity };
    return { owner: user.identity };
  })
  .on("threads", ({ value }) => {
    stamp(value, "threads");
  })
  .on("*:create", ({ value }) => {
    stamp(value, "*:create");
    return true;
  })
  .on("*", ({ value }) => {
    stamp(value, "*");
  })
  .on("crons", (event) => answers[event.value.answer](event))
  .on("store", ({ value, user }) => {
    switch (value.key) {
      case "http":
        throw new HTTPException(404, { message: "No such namespace", headers: { "X-Reason": "scoped" } });
      case "forbidden":
        throw new HTTPException(403);
      case "foreign":
        throw new ForeignHTTPException(409, { message: "Taken" });
      case "status-only":
        throw Object.assign(new Error("looks like an HTTP error"), { status: 404, headers: {} });
      case "crash":
        throw new TypeError("cannot read the secret vault");
      case "bigint":
        value.size = 10n;
        return undefined;
      default:
        return { namespace: { $contains: user.identity } };
    }
  });
