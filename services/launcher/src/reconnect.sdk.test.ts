import net from "node:net";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * A dropped connection in the middle of a stream, resumed by the SDK's own reconnect: the
 * client talks to LangOpen through a TCP relay that the test cuts mid-stream.
 */
let stack: TestStack;
let relay: net.Server;
let relayUrl: string;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  const target = new URL(stack.url);
  relay = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  relayUrl = `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => relay?.close(() => resolve()));
  await stack?.stop();
});

describe("a dropped stream", () => {
  it("is resumed by the SDK through Location and Last-Event-ID, with every event once and in order", async () => {
    const client = new Client({ apiUrl: relayUrl });
    const thread = await client.threads.create();
    const seen: Array<{ event: string; data: unknown; id?: string }> = [];
    let cut = false;
    for await (const chunk of client.runs.stream(thread.thread_id, "slow", {
      input: {},
      config: { configurable: { ticks: 12 } },
      streamMode: ["custom"],
      streamResumable: true,
    }) as AsyncIterable<{ event: string; data: unknown; id?: string }>) {
      seen.push(chunk);
      if (!cut && seen.filter((c) => c.event === "custom").length === 4) {
        cut = true;
        // The network drops every open connection.
        for (const s of sockets) s.destroy();
      }
    }
    expect(cut).toBe(true);
    const ticks = seen.filter((c) => c.event === "custom").map((c) => (c.data as { tick: number }).tick);
    expect(ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const ids = seen.map((c) => c.id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
