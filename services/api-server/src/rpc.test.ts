import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createLogger, errorInfo, Reason } from "@langopen/common";
import { createLocalSignals } from "@langopen/data-plane";
import { ServerReflection, ServerReflectionRequestSchema } from "@langopen/gen/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "@langopen/gen/grpc/reflection/v1alpha/reflection_pb";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "./compose.js";

const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));
const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "langopen.data.v1.AssistantService",
  "langopen.data.v1.CheckpointService",
  "langopen.data.v1.CronService",
  "langopen.data.v1.RunService",
  "langopen.data.v1.StoreService",
  "langopen.data.v1.ThreadService",
  "langopen.data.v1.WebhookService",
];

let server: ApiServer;
let drop: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase(inject("databaseUrl"));
  drop = db.drop;
  server = await startApiServer(
    { databaseUrl: db.url, host: "127.0.0.1", port: 0, graphIds: ["agent"], signals: createLocalSignals() },
    createLogger({ service: "test", level: "silent" }),
  );
});
afterAll(async () => {
  await server?.stop(500);
  await drop?.();
});

async function* one<T>(value: T): AsyncIterable<T> {
  yield value;
}

describe("api-server over gRPC", () => {
  it("lists every service through reflection v1 and v1alpha", async () => {
    const transport = createGrpcTransport({ baseUrl: server.rpc.url });
    const reflection = createClient(ServerReflection, transport);
    for await (const res of reflection.serverReflectionInfo(
      one(create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } })),
    )) {
      expect(res.messageResponse.case).toBe("listServicesResponse");
      if (res.messageResponse.case === "listServicesResponse") {
        expect(res.messageResponse.value.service.map((s) => s.name).sort()).toEqual(EXPECTED_SERVICES);
      }
    }
    const alpha = createClient(v1alpha.ServerReflection, transport);
    for await (const res of alpha.serverReflectionInfo(
      one(
        create(v1alpha.ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: "langopen.data.v1.ThreadService" },
        }),
      ),
    )) {
      expect(res.messageResponse.case).toBe("fileDescriptorResponse");
    }
  });

  it("answers health checks over gRPC, gRPC-Web and Connect", async () => {
    const transports = [
      createGrpcTransport({ baseUrl: server.rpc.url }),
      createGrpcWebTransport({ baseUrl: server.rpc.url, httpVersion: "2" }),
      createConnectTransport({ baseUrl: server.rpc.url, httpVersion: "2" }),
    ];
    for (const transport of transports) {
      const health = createClient(Health, transport);
      expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect((await health.check({ service: "langopen.data.v1.ThreadService" })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
    }
  });

  it("serves a stock @grpc/grpc-js client", async () => {
    const definition = protoLoader.loadSync("langopen/data/v1/assistant_service.proto", {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      longs: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      langopen: { data: { v1: { AssistantService: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.langopen.data.v1.AssistantService(
      server.rpc.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const call = (method: string, req: object) =>
      new Promise<Record<string, unknown>>((resolve, reject) =>
        (client[method] as (r: object, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void) => void).call(
          client,
          req,
          (err, value) => (err ? reject(err) : resolve(value)),
        ),
      );
    try {
      const created = (await call("CreateAssistant", { graph_id: "agent", name: "from grpc-js" })).assistant as Record<
        string,
        unknown
      >;
      expect(created.name).toBe("from grpc-js");
      const got = (await call("GetAssistant", { assistant_id: created.assistant_id })).assistant as Record<string, unknown>;
      expect(got.assistant_id).toBe(created.assistant_id);
      await expect(call("GetAssistant", { assistant_id: crypto.randomUUID() })).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
      });
    } finally {
      client.close();
    }
  });

  it("carries stable reasons in errors", async () => {
    const threads = createClient(ThreadService, createGrpcTransport({ baseUrl: server.rpc.url }));
    const err = await threads.getThread({ threadId: "not-a-uuid" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect(errorInfo(err as ConnectError)?.reason).toBe(Reason.InvalidArgument);
    const missing = await threads.getThread({ threadId: crypto.randomUUID() }).catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    const assistants = createClient(AssistantService, createGrpcTransport({ baseUrl: server.rpc.url }));
    const dup = await assistants.createAssistant({ graphId: "agent" });
    const clash = await assistants
      .createAssistant({ graphId: "agent", assistantId: dup.assistant?.assistantId })
      .catch((e: unknown) => ConnectError.from(e));
    expect((clash as ConnectError).code).toBe(Code.AlreadyExists);
  });
});
