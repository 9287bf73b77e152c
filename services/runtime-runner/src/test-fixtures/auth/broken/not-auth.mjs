// Looks like auth to a reader, but is not an Auth of the SDK (no handler cache).
export const auth = { authenticate: () => "anyone" };
