/** The HTTP status an SDK call failed with; throws when the call succeeded. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number") return status;
    const match = /HTTP (\d{3})/.exec(String(err));
    if (match) return Number(match[1]);
    throw err;
  }
  throw new Error("the call succeeded");
}
