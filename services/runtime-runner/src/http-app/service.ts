import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { HOP_BY_HOP_HEADERS, invalidArgument, type Logger, unavailable } from "@langopen/common";
import {
  type HttpAppService,
  type HttpHeader,
  HttpHeaderSchema,
  type ServeRequest,
  type ServeResponse,
  ServeResponseSchema,
} from "@langopen/gen/langopen/runtime/v1/http_app_service_pb";
import { isUiPath, type ProjectUi } from "../ui/serve.js";
import type { ProjectHttpApp } from "./load.js";

const encoder = new TextEncoder();

function responseHeaders(headers: Headers): HttpHeader[] {
  const named = new Set((headers.get("connection") ?? "").split(",").map((name) => name.trim().toLowerCase()));
  const out: HttpHeader[] = [];
  for (const [name, value] of headers) {
    if (HOP_BY_HOP_HEADERS.has(name) || named.has(name) || name === "set-cookie") continue;
    out.push(create(HttpHeaderSchema, { name, value }));
  }
  for (const value of headers.getSetCookie()) out.push(create(HttpHeaderSchema, { name: "set-cookie", value }));
  return out;
}

/** The request's body: the messages after its head, as the app reads them (and no faster). */
function bodyOf(rest: AsyncIterator<ServeRequest>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const next = await rest.next();
        if (next.done) return controller.close();
        if (next.value.part.case !== "body") return controller.error(new Error("the request's head was sent twice"));
        if (next.value.part.value.byteLength > 0) return controller.enqueue(next.value.part.value);
      }
    },
    async cancel() {
      await rest.return?.();
    },
  });
}

function head(status: number, headers: HttpHeader[]): ServeResponse {
  return create(ServeResponseSchema, { part: { case: "head", value: { status, headers } } });
}

function body(chunk: Uint8Array): ServeResponse {
  return create(ServeResponseSchema, { part: { case: "body", value: chunk } });
}

/** The answer when the app throws instead of answering: upstream's error shape, nothing of the error. */
function internalError(): ServeResponse[] {
  return [
    head(500, [create(HttpHeaderSchema, { name: "content-type", value: "application/json" })]),
    body(encoder.encode(JSON.stringify({ detail: "Internal Server Error" }))),
  ];
}

export interface HttpAppServiceDeps {
  /** The project's app; undefined when langgraph.json names none (every call then fails). */
  httpApp: ProjectHttpApp | undefined;
  /** The project's bundled UI components (`ui` of langgraph.json), answering the `/ui/` paths; undefined: none. */
  ui?: ProjectUi;
  logger: Logger;
}

/** HttpAppService: each call is one request answered by the project's app. */
export function createHttpAppServiceImpl(deps: HttpAppServiceDeps): ServiceImpl<typeof HttpAppService> {
  const { httpApp, ui, logger } = deps;
  return {
    async *serve(requests: AsyncIterable<ServeRequest>, ctx: HandlerContext): AsyncGenerator<ServeResponse> {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.part.case !== "head") throw invalidArgument("the first message must be the request's head");
      const { method, url, headers, hasBody } = first.value.part.value;
      let pathname: string;
      try {
        pathname = new URL(url).pathname;
      } catch {
        throw invalidArgument("the request's URL must be absolute");
      }
      // The UI's paths are its own; every other one is the project's app's.
      const handler = ui && isUiPath(pathname) ? { spec: "ui", app: ui } : httpApp;
      if (!handler) throw unavailable("the project's HTTP app (langgraph.json names no http.app)");
      const init: RequestInit & { duplex?: "half" } = {
        method,
        headers: headers.map((h) => [h.name, h.value] as [string, string]),
        signal: ctx.signal,
      };
      if (hasBody && method !== "GET" && method !== "HEAD") {
        init.body = bodyOf(iterator);
        // A streamed request body needs it (fetch's rule, which Request follows).
        init.duplex = "half";
      }
      let response: Response;
      try {
        response = await handler.app.fetch(new Request(url, init));
        if (!(response instanceof Response)) throw new TypeError(`the app answered ${typeof response}, not a Response`);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        logger.error({ err, app: handler.spec, method, path: pathname }, "Failed to serve a custom route");
        yield* internalError();
        return;
      }
      yield head(response.status, responseHeaders(response.headers));
      if (!response.body) return;
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          if (value.byteLength > 0) yield body(value);
        }
      } catch (err) {
        if (!ctx.signal.aborted) {
          logger.error({ err, app: handler.spec, method, path: pathname }, "Failed while streaming a custom route");
        }
        throw err;
      } finally {
        // The caller went away (or the stream failed): the app's stream is cancelled, so it stops producing.
        void reader.cancel().catch(() => {});
      }
    },
  };
}
