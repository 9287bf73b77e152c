// A module whose top-level await never settles.
await new Promise(() => {});
export const graph = undefined;
