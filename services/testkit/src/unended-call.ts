import type http2 from "node:http2";

export interface UnendedAnswer {
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  body: Buffer;
}

/**
 * An RPC over HTTP/2 whose body never ends (1 MiB sent, then nothing): only a server that answers
 * from the call's headers (or stops reading at a limit) answers it. Resolves with the answer once it has ended.
 */
export function unendedCall(
  session: http2.ClientHttp2Session,
  path: string,
  headers: Record<string, string>,
): Promise<UnendedAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    let answer: UnendedAnswer["headers"] | undefined;
    const body: Buffer[] = [];
    stream.on("response", (h) => {
      answer = h;
    });
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    stream.on("error", reject);
    // The answer has ended: whether the server also resets the stream or waits for the rest is its business.
    stream.on("end", () => {
      if (answer) resolve({ headers: answer, body: Buffer.concat(body) });
      stream.close();
    });
    stream.on("close", () => reject(new Error("closed without an answer")));
    stream.write(Buffer.alloc(1 << 20));
  });
}
