// A factory that fails when it is called for a run.
export async function makeGraph() {
  throw new Error("missing API key");
}
