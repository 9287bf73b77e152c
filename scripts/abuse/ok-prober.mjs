// The `/ok` prober of the abuse suite, in a worker thread of its own: the suite's main thread
// also runs the attacks' clients (it reads gigabytes of event streams, builds 10 MB bodies) and
// reads /proc, and a probe timed on that thread measured the client's own busy stretches as
// well as the server's. Here nothing else runs: one probe in flight at a time, each on a fresh
// loopback connection (so it never queues behind the attack's connections), every `tickMs`;
// each result goes to the main thread as {at, ms, status} or {at, ms, error}, `at` the wall
// clock of the probe's start (the main thread counts it in the window that was open then).
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { url, tickMs, timeoutMs } = workerData;
let running = true;
parentPort.on("message", (message) => {
  if (message === "stop") running = false;
});

function probe() {
  const at = Date.now();
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(`${url}/ok`, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once("end", () => resolve({ at, ms: performance.now() - started, status: res.statusCode }));
      res.once("error", (err) => resolve({ at, ms: performance.now() - started, error: err.message }));
    });
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", (err) => resolve({ at, ms: performance.now() - started, error: err.message }));
  });
}

while (running) {
  const tick = Date.now();
  parentPort.postMessage(await probe());
  await new Promise((resolve) => setTimeout(resolve, Math.max(10, tickMs - (Date.now() - tick))));
}
parentPort.close();
