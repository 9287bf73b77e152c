/**
 * Wording of Postgres, Fastify and Node that must never reach a public error body: column,
 * constraint and type names, Postgres's messages, Fastify's error codes, its default error shape
 * (`statusCode`, `error`, `message`) and preflight text, Node's HTTP parser messages, and Ajv's
 * messages (as they spell them: "Unsupported media type: send the body as application/json" is ours).
 */
export const INTERNAL_WORDING =
  /Key \(|violates|constraint|type bigint|for type|encoding "|UTF8|0x00|relation "|column "|invalid input syntax|escape sequence|out of range for|timestamp out|FST_ERR|must have required property|Unsupported Media Type|not a valid url component|max param length|"statusCode"|"error":|Invalid Preflight Request|maximum allowed HTTP header|Client Error/;
