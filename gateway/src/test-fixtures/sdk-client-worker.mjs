// A client of the gateway on its own thread: the official SDK and fetch, each with its own event
// loop and sockets, as in a separate client process. A test in the same thread as the server
// cannot show how a client still uploading sees the server's answer: the two would take turns
// on one event loop. Messages in: {id, sdk: "assistants.create", args} or {id, fetch: {path,
// method, headers, bodyBytes}}, where the fetch body is `bodyBytes` bytes of JSON. Messages out:
// {id, ok: true, value} or {id, ok: false, error: {name, message, status, text, cause}}.
import { parentPort, workerData } from "node:worker_threads";
import { Client } from "@langchain/langgraph-sdk";

const client = new Client({ apiUrl: workerData.apiUrl });

/** A JSON object of exactly `bytes` bytes: `{"graph_id":"agent","pad":"xxx..."}`. */
function jsonOfSize(bytes) {
  const empty = JSON.stringify({ graph_id: "agent", pad: "" });
  return JSON.stringify({ graph_id: "agent", pad: "x".repeat(Math.max(0, bytes - empty.length)) });
}

async function run(message) {
  if (message.sdk) {
    const [resource, method] = message.sdk.split(".");
    return client[resource][method](...(message.args ?? []));
  }
  const { path, method = "POST", headers = {}, bodyBytes } = message.fetch;
  const res = await fetch(new URL(path, workerData.apiUrl), {
    method,
    headers: bodyBytes === undefined ? headers : { "content-type": "application/json", ...headers },
    body: bodyBytes === undefined ? undefined : jsonOfSize(bodyBytes),
  });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

parentPort.on("message", async (message) => {
  try {
    parentPort.postMessage({ id: message.id, ok: true, value: await run(message) });
  } catch (err) {
    const error = {
      name: err?.name,
      message: String(err?.message ?? err),
      status: err?.status,
      text: err?.text,
      cause: err?.cause ? String(err.cause.code ?? err.cause.message ?? err.cause) : undefined,
    };
    parentPort.postMessage({ id: message.id, ok: false, error });
  }
});
