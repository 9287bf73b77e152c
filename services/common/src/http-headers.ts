/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1): a proxy never passes
 * them on, nor those a message's own `Connection` header names.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
