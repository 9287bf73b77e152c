// The HTTP floor of this machine: fastify (the gateway's version) with one empty JSON route, in a process of
// its own, on the loopback port given as the first argument.
import { createRequire } from "node:module";

// fastify is the gateway's dependency: resolve it from there, so the floor uses the same version.
const require = createRequire(new URL("../../gateway/package.json", import.meta.url));
const { default: Fastify } = await import(require.resolve("fastify"));

const app = Fastify({ logger: false });
app.post("/", async () => ({}));
app.get("/", async () => ({}));
await app.listen({ host: "127.0.0.1", port: Number(process.argv[2]) });
process.once("SIGTERM", () => app.close().then(() => process.exit(0)));
