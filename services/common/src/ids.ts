/**
 * What LangOpen takes for a UUID (assistant, thread, run and cron ids): any 8-4-4-4-12 hex
 * string, in any case. No version or variant bits are checked, as the LangGraph SDKs and the
 * Agent Server do not check them either (`11111111-1111-1111-1111-111111111111` is an id). The
 * one definition of the platform: the data plane checks ids with it and the gateway's `uuid`
 * schema format is it.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A UUID as ids are stored and compared: lower case. */
export function normalizeUuid(value: string): string {
  return value.toLowerCase();
}
