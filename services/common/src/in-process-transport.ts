import { create, type DescMethod, type DescService, isMessage, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextValues,
  createHandlerContext,
  createMethodImplSpec,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  createAsyncIterable,
  getAbortSignalReason,
  invokeUnaryImplementation,
  runStreamingCall,
  transformInvokeImplementation,
} from "@connectrpc/connect/protocol";
import { AUTHORIZATION_HEADER } from "./internal-credentials.js";

/** One `router.service(...)` or `router.rpc(...)` call, kept so that it can be replayed on another router. */
export type RouteRegistration =
  | { kind: "service"; service: DescService; impl: object }
  | { kind: "rpc"; method: DescMethod; impl: unknown };

/**
 * Calls `routes` once on a recording router: the registrations can then be replayed on the
 * network server's router and served in process, with the same implementation objects.
 */
export function recordRoutes(routes: (router: ConnectRouter) => void): RouteRegistration[] {
  const recorded: RouteRegistration[] = [];
  const recorder = {
    handlers: [],
    service(service: DescService, impl: object) {
      recorded.push({ kind: "service", service, impl });
      return recorder;
    },
    rpc(method: DescMethod, impl: unknown) {
      recorded.push({ kind: "rpc", method, impl });
      return recorder;
    },
  };
  routes(recorder as unknown as ConnectRouter);
  return recorded;
}

/** Registers recorded routes on a real router. */
export function replayRoutes(router: ConnectRouter, recorded: RouteRegistration[]): void {
  for (const r of recorded) {
    // biome-ignore lint/suspicious/noExplicitAny: the recorded implementation matches its descriptor by construction.
    if (r.kind === "service") router.service(r.service, r.impl as any);
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    else router.rpc(r.method as any, r.impl as any);
  }
}

export interface InProcessTransportOptions {
  routes: RouteRegistration[];
  /** The server's interceptors (e.g. the edge interceptor), applied as the network server applies them. */
  interceptors?: Interceptor[];
  /** The server's shutdown signal: open calls end with its reason, as over the network. */
  shutdownSignal?: AbortSignal;
  /** Sent as `authorization: Bearer <token>` on every call, as the network transports send theirs (see bearerToken). */
  token?: string;
}

/**
 * A Transport that calls service implementations in this process, with no serialization and no
 * HTTP: request and response messages are handed over as objects (so neither side may mutate a
 * message after handing it over; the implementations here never do). Errors, request headers,
 * deadlines (`timeoutMs`), abort signals and the server's shutdown signal behave as with the
 * network transports: the handler sees a HandlerContext with the caller's headers and a signal
 * that aborts on the caller's abort, the deadline or shutdown; the caller gets a ConnectError
 * (DeadlineExceeded, Canceled, or the handler's) as soon as its signal aborts, even when the
 * handler has not noticed yet.
 *
 * Unlike `createRouterTransport` of @connectrpc/connect, which runs the Connect protocol in
 * memory and so still encodes and decodes every message.
 */
export function createInProcessTransport(options: InProcessTransportOptions): Transport {
  const interceptors = options.interceptors ?? [];
  const methods = new Map<DescMethod, MethodImplSpec>();
  for (const r of options.routes) {
    if (r.kind === "service") {
      const spec = createServiceImplSpec(r.service, r.impl as never);
      for (const m of r.service.methods) methods.set(m, spec.methods[m.localName] as MethodImplSpec);
    } else {
      methods.set(r.method, createMethodImplSpec(r.method, r.impl as never));
    }
  }
  const lookup = (method: DescMethod): MethodImplSpec => {
    const spec = methods.get(method);
    if (!spec) throw new ConnectError(`${method.parent.typeName}/${method.name} is not served in process`, Code.Unimplemented);
    return spec;
  };
  const normalizeTimeout = (timeoutMs: number | undefined) => (timeoutMs === undefined || timeoutMs <= 0 ? undefined : timeoutMs);
  const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  /** The caller's headers, copied (the handler may not change the caller's), with the token unless the caller set one. */
  const requestHeaders = (header: Headers | undefined) => {
    const headers = new Headers(header);
    if (authorization !== undefined && !headers.has(AUTHORIZATION_HEADER)) headers.set(AUTHORIZATION_HEADER, authorization);
    return headers;
  };
  const contextFor = (
    method: DescMethod,
    signal: AbortSignal,
    timeoutMs: number | undefined,
    header: Headers,
    values = createContextValues(),
  ) =>
    createHandlerContext({
      service: method.parent,
      method,
      protocolName: "in-process",
      requestMethod: "POST",
      url: `in-process:/${method.parent.typeName}/${method.name}`,
      timeoutMs,
      shutdownSignal: options.shutdownSignal,
      requestSignal: signal,
      requestHeader: header,
      contextValues: values,
    });

  return {
    async unary(method, signal, timeoutMs, header, message, contextValues) {
      // The hot path of a composed process, kept lean: one AbortController for the call (the
      // caller's signal, the deadline and shutdown all abort it), aborted at the end with a
      // ready-made reason (an abort without one builds a DOMException with a stack trace).
      const spec = lookup(method) as Extract<MethodImplSpec, { kind: "unary" }>;
      const timeout = normalizeTimeout(timeoutMs);
      const call = new AbortController();
      const onAbort = function (this: AbortSignal) {
        call.abort(ConnectError.from(getAbortSignalReason(this), Code.Canceled));
      };
      const linked = [signal, options.shutdownSignal].filter((s): s is AbortSignal => s !== undefined);
      for (const s of linked) {
        if (s.aborted) onAbort.call(s);
        else s.addEventListener("abort", onAbort);
      }
      const deadline = timeout === undefined ? undefined : Date.now() + timeout;
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => call.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeout);
      const context: HandlerContext = {
        service: method.parent,
        method,
        protocolName: "in-process",
        requestMethod: "POST",
        url: `in-process:/${method.parent.typeName}/${method.name}`,
        signal: call.signal,
        timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
        requestHeader: requestHeaders(header),
        responseHeader: new Headers(),
        responseTrailer: new Headers(),
        values: contextValues ?? createContextValues(),
      };
      try {
        if (call.signal.aborted) throw getAbortSignalReason(call.signal);
        const input = isMessage(message, method.input) ? message : create(method.input, message as never);
        const output = await untilAborted(invokeUnaryImplementation(spec, context, input, interceptors), call.signal);
        return {
          stream: false,
          service: method.parent,
          method,
          header: context.responseHeader,
          message: output,
          trailer: context.responseTrailer,
        } as UnaryResponse<never, never>;
      } catch (err) {
        throw toCallerError(err);
      } finally {
        clearTimeout(timer);
        for (const s of linked) s.removeEventListener("abort", onAbort);
        if (!call.signal.aborted) call.abort(COMPLETED);
      }
    },

    async stream(method, signal, timeoutMs, header, input, contextValues) {
      const timeout = normalizeTimeout(timeoutMs);
      return runStreamingCall({
        interceptors: [],
        signal,
        timeoutMs: timeout,
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: `in-process:/${method.parent.typeName}/${method.name}`,
          header: requestHeaders(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const spec = lookup(req.method);
          const context = contextFor(req.method, req.signal, timeout, req.header, req.contextValues);
          // Client streams are sent once and whole over the network too; buffering keeps the handler's input independent.
          const inputs: unknown[] = [];
          for await (const m of req.message) inputs.push(m);
          const output = transformInvokeImplementation(spec, context, interceptors)(createAsyncIterable(inputs) as never);
          return {
            ...req,
            header: context.responseHeader,
            trailer: context.responseTrailer,
            message: abortable(output, req.signal, () => context.abort()),
          } as unknown as StreamResponse<never, never>;
        },
      }) as never;
    },
  };
}

/** The reason a finished call's signal is aborted with (handlers may still listen to it). */
const COMPLETED = new ConnectError("the call has completed", Code.Canceled);

/** Settles with the promise, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(getAbortSignalReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(getAbortSignalReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The handler's output, ending for the caller as soon as its signal aborts (the handler is told
 * through its context's signal and its generator is closed when it next yields).
 */
function abortable<T>(output: AsyncIterable<T>, signal: AbortSignal, done: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = output[Symbol.asyncIterator]();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        done();
      };
      return {
        async next() {
          try {
            const r = await untilAborted(it.next(), signal);
            if (r.done) finish();
            return r;
          } catch (err) {
            finish();
            if (signal.aborted) it.return?.().catch(() => {});
            throw toCallerError(err);
          }
        },
        async return(value?: unknown) {
          finish();
          it.return?.().catch(() => {});
          return { done: true, value: value as never };
        },
      };
    },
  };
}

/**
 * What a network client would have read: a ConnectError with its code, message, metadata and
 * details (encoded, as they arrive from the wire, so that logs and findDetails see the same
 * shape); its cause stays server-side information.
 */
function toCallerError(err: unknown): ConnectError {
  const e = ConnectError.from(err, Code.Internal);
  if (e.cause === undefined && e.details.every((d) => !("desc" in d))) return e;
  const wire = new ConnectError(e.rawMessage, e.code, e.metadata);
  wire.details = e.details.map((d) =>
    "desc" in d ? { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value)) } : d,
  );
  return wire;
}
