// An export that is neither a graph nor a function returning one.
export const graph = { name: "not a graph" };
