// An auth module that never finishes loading.
await new Promise(() => {});
export const auth = undefined;
