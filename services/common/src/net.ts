import net from "node:net";

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** A TCP port that was free on the loopback interface a moment ago. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return listenOnce(0, host);
}

/** `port` when it is free a moment ago, else another free one. */
export function freePortPreferring(port: number | undefined, host = "127.0.0.1"): Promise<number> {
  return port ? listenOnce(port, host).catch(() => freePort(host)) : freePort(host);
}
