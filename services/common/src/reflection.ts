import { type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "@langopen/gen/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "@langopen/gen/grpc/reflection/v1alpha/reflection_pb";

type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/**
 * gRPC server reflection (v1 and v1alpha) built from protobuf-es file descriptors, so buf curl
 * and grpcurl can list, describe and call every service on a connect-node server. Written here
 * because no maintained package serves reflection for connect-node.
 */
export function registerReflection(router: ConnectRouter, roots: DescFile[]): void {
  const index = buildIndex([...roots, v1.file_grpc_reflection_v1_reflection, v1alpha.file_grpc_reflection_v1alpha_reflection]);
  const respond = (req: ReflectionRequest) => ({ validHost: req.host, messageResponse: answer(index, req) });
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield { ...respond(req), originalRequest: req };
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield { ...respond(req), originalRequest: req };
    },
  });
}

interface Index {
  files: Map<string, DescFile>;
  symbols: Map<string, DescFile>;
  extensions: Map<string, Map<number, DescFile>>;
  services: string[];
}

function buildIndex(roots: DescFile[]): Index {
  const index: Index = { files: new Map(), symbols: new Map(), extensions: new Map(), services: [] };
  const addExtension = (file: DescFile, extendee: string, number: number) => {
    const byNumber = index.extensions.get(extendee) ?? new Map<number, DescFile>();
    byNumber.set(number, file);
    index.extensions.set(extendee, byNumber);
  };
  const visitMessage = (file: DescFile, message: DescMessage) => {
    index.symbols.set(message.typeName, file);
    for (const field of message.fields) index.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) index.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const e of message.nestedEnums) index.symbols.set(e.typeName, file);
    for (const x of message.nestedExtensions) {
      index.symbols.set(x.typeName, file);
      addExtension(file, x.extendee.typeName, x.number);
    }
    for (const nested of message.nestedMessages) visitMessage(file, nested);
  };
  const visitFile = (file: DescFile) => {
    if (index.files.has(file.proto.name)) return;
    index.files.set(file.proto.name, file);
    file.dependencies.forEach(visitFile);
    for (const message of file.messages) visitMessage(file, message);
    for (const e of file.enums) index.symbols.set(e.typeName, file);
    for (const x of file.extensions) {
      index.symbols.set(x.typeName, file);
      addExtension(file, x.extendee.typeName, x.number);
    }
    for (const service of file.services) {
      index.symbols.set(service.typeName, file);
      index.services.push(service.typeName);
      for (const method of service.methods) index.symbols.set(`${service.typeName}.${method.name}`, file);
    }
  };
  roots.forEach(visitFile);
  return index;
}

/** The file itself first, then every file it imports, transitively. */
function fileWithImports(file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const walk = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    f.dependencies.forEach(walk);
  };
  walk(file);
  return out;
}

function fileAnswer(file: DescFile | undefined, what: string) {
  if (!file) {
    return { case: "errorResponse" as const, value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
  }
  return { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: fileWithImports(file) } };
}

function answer(index: Index, req: ReflectionRequest) {
  const r = req.messageRequest;
  switch (r.case) {
    case "fileByFilename":
      return fileAnswer(index.files.get(r.value), r.value);
    case "fileContainingSymbol":
      return fileAnswer(index.symbols.get(r.value), r.value);
    case "fileContainingExtension":
      return fileAnswer(
        index.extensions.get(r.value.containingType)?.get(r.value.extensionNumber),
        `extension ${r.value.extensionNumber} of ${r.value.containingType}`,
      );
    case "allExtensionNumbersOfType":
      return {
        case: "allExtensionNumbersResponse" as const,
        value: { baseTypeName: r.value, extensionNumber: [...(index.extensions.get(r.value)?.keys() ?? [])] },
      };
    case "listServices":
      return { case: "listServicesResponse" as const, value: { service: index.services.map((name) => ({ name })) } };
    default:
      return { case: "errorResponse" as const, value: { errorCode: Code.InvalidArgument, errorMessage: "empty request" } };
  }
}
