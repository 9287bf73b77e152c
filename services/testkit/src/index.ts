export { freePort } from "@langopen/common";
export * from "./database.js";
export * from "./fake-kube.js";
export * from "./postgres.js";
export { makeTempDir } from "./process.js";
export * from "./provided.js";
export * from "./redis.js";
export * from "./unended-call.js";
export * from "./until.js";
