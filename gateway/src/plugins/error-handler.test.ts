import { Code, ConnectError } from "@connectrpc/connect";
import {
  alreadyExists,
  failedPrecondition,
  internal,
  invalidArgument,
  malformed,
  notFound,
  unavailable,
  unimplemented,
} from "@langopen/common";
import { describe, expect, it } from "vitest";
import { RequestValidationError } from "../validation.js";
import { fromConnectError, PUBLIC_STATUS, routeMatcher, toPublicError } from "./error-handler.js";
import { InvalidJsonError } from "./json-body.js";

describe("PUBLIC_STATUS", () => {
  it.each([
    [Code.Canceled, 499],
    [Code.Unknown, 500],
    [Code.InvalidArgument, 422],
    [Code.DeadlineExceeded, 504],
    [Code.NotFound, 404],
    [Code.AlreadyExists, 409],
    [Code.PermissionDenied, 403],
    [Code.ResourceExhausted, 429],
    [Code.FailedPrecondition, 409],
    [Code.Aborted, 409],
    [Code.OutOfRange, 422],
    [Code.Unimplemented, 501],
    [Code.Internal, 500],
    [Code.Unavailable, 503],
    [Code.DataLoss, 500],
    [Code.Unauthenticated, 401],
  ])("maps %s to %i", (code, status) => {
    expect(PUBLIC_STATUS[code]).toBe(status);
    expect(fromConnectError(new ConnectError("m", code)).statusCode).toBe(status);
  });

  it("covers every Connect code", () => {
    const codes = Object.values(Code).filter((v): v is Code => typeof v === "number");
    expect(Object.keys(PUBLIC_STATUS).map(Number).sort()).toEqual(codes.sort());
  });
});

describe("fromConnectError", () => {
  it("passes 4xx messages through", () => {
    expect(fromConnectError(notFound("Thread", "t1"))).toEqual({ statusCode: 404, detail: "Thread t1 not found" });
    expect(fromConnectError(alreadyExists("Assistant", "a1"))).toEqual({
      statusCode: 409,
      detail: "Assistant a1 already exists",
    });
    expect(fromConnectError(failedPrecondition("THREAD_BUSY", "Thread t1 is busy"))).toEqual({
      statusCode: 409,
      detail: "Thread t1 is busy",
    });
  });

  it("answers 400 for malformed input, 422 for other invalid arguments", () => {
    expect(fromConnectError(malformed("Namespace is required"))).toEqual({ statusCode: 400, detail: "Namespace is required" });
    expect(fromConnectError(invalidArgument("Invalid limit"))).toEqual({ statusCode: 422, detail: "Invalid limit" });
  });

  it("appends field violations the message does not name", () => {
    const err = invalidArgument("Invalid request", [{ field: "graph_id", description: "is unknown" }]);
    expect(fromConnectError(err)).toEqual({ statusCode: 422, detail: "Invalid request: 'graph_id' is unknown" });
    const named = invalidArgument("Unknown graph_id", [{ field: "graph_id", description: "is unknown" }]);
    expect(fromConnectError(named).detail).toBe("Unknown graph_id");
  });

  it("names the lost dependency on 503", () => {
    expect(fromConnectError(unavailable("postgres"))).toEqual({ statusCode: 503, detail: "postgres is unavailable" });
  });

  it("blames the api-server when the transport cannot reach it", () => {
    const transportError = new ConnectError("connect ECONNREFUSED 127.0.0.1:50051", Code.Unavailable);
    expect(fromConnectError(transportError)).toEqual({ statusCode: 503, detail: "api-server is unavailable" });
  });

  it("keeps 5xx details generic", () => {
    expect(fromConnectError(internal())).toEqual({ statusCode: 500, detail: "Internal Server Error" });
    expect(fromConnectError(new ConnectError('relation "x" does not exist', Code.Internal))).toEqual({
      statusCode: 500,
      detail: "Internal Server Error",
    });
    expect(fromConnectError(new ConnectError("slow", Code.DeadlineExceeded))).toEqual({
      statusCode: 504,
      detail: "Gateway Timeout",
    });
    expect(fromConnectError(new ConnectError("secret", Code.DataLoss)).detail).toBe("Internal Server Error");
  });

  it("passes our own Unimplemented messages, not foreign ones", () => {
    expect(fromConnectError(unimplemented("Graph drawing needs the runtime"))).toEqual({
      statusCode: 501,
      detail: "Graph drawing needs the runtime",
    });
    expect(fromConnectError(new ConnectError("method langopen.x.Y is not implemented", Code.Unimplemented))).toEqual({
      statusCode: 501,
      detail: "Not Implemented",
    });
  });
});

describe("toPublicError", () => {
  it("maps request validation and JSON errors to 422", () => {
    expect(toPublicError(new RequestValidationError("Invalid body: 'limit' must be an integer", "body"))).toEqual({
      statusCode: 422,
      detail: "Invalid body: 'limit' must be an integer",
    });
    expect(toPublicError(new InvalidJsonError())).toEqual({ statusCode: 422, detail: "Request body is not valid JSON" });
  });

  it("maps Fastify's body errors", () => {
    const tooLarge = Object.assign(new RangeError("Request body is too large"), {
      code: "FST_ERR_CTP_BODY_TOO_LARGE",
      statusCode: 413,
    });
    expect(toPublicError(tooLarge, 1024)).toEqual({
      statusCode: 413,
      detail: "Request body is too large: the limit is 1024 bytes",
    });
    const media = Object.assign(new Error("Unsupported Media Type"), { code: "FST_ERR_CTP_INVALID_MEDIA_TYPE", statusCode: 415 });
    expect(toPublicError(media).statusCode).toBe(415);
    const length = Object.assign(new RangeError("Request body size did not match Content-Length"), {
      code: "FST_ERR_CTP_INVALID_CONTENT_LENGTH",
      statusCode: 400,
    });
    expect(toPublicError(length)).toEqual({ statusCode: 400, detail: "Request body size did not match Content-Length" });
  });

  it("hides anything else behind a generic 500", () => {
    expect(toPublicError(new TypeError("cannot read properties of undefined"))).toEqual({
      statusCode: 500,
      detail: "Internal Server Error",
    });
    expect(toPublicError("boom")).toEqual({ statusCode: 500, detail: "Internal Server Error" });
  });
});

describe("routeMatcher", () => {
  it("matches concrete paths of a route pattern", () => {
    const m = routeMatcher("/threads/:thread_id/copy");
    expect(m.test("/threads/abc/copy")).toBe(true);
    expect(m.test("/threads/abc")).toBe(false);
    expect(m.test("/threads/a/b/copy")).toBe(false);
    expect(routeMatcher("/store/items").test("/store/items")).toBe(true);
    expect(routeMatcher("/ok").test("/okay")).toBe(false);
  });
});
