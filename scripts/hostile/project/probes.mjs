// The hostile graph's probes: each tries one thing a graph must not be able to do (or, for the
// controls, one thing it must still be able to do) and reports what happened as
// `{probe, outcome, detail}`. A probe never throws and never hangs: every attempt is caught, and
// each probe is cut off after a few seconds. Nothing here damages what it reaches: files outside
// the scratch space are opened for append with nothing written, or a new file is made beside
// them and deleted; the parent gets signal 0 (a permission check, no signal), never a real one;
// the bombs stop at a bound.
//
// outcome: "exposed" the graph got through; "denied" it was refused (or found nothing to reach);
// "allowed" a control worked; "error" the probe itself failed in a way that proves nothing.
// `ctx` comes from the suite: the paths and ports of the server under test, which a real hostile
// graph would find by looking around, handed over so that each probe aims at what exists.
import { execSync, spawn } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const PROJECT_DIR = path.dirname(fileURLToPath(import.meta.url));
const PROBE_TIMEOUT_MS = 6_000;

/** Error codes that mean the sandbox (or the OS) refused: the attempt is denied. */
const REFUSED = new Set([
  "ERR_ACCESS_DENIED",
  "EACCES",
  "EPERM",
  "ERR_DLOPEN_DISABLED",
  "ERR_WORKER_INIT_FAILED",
  "EROFS",
  "ECONNREFUSED",
  "ENOENT",
  "ENOTDIR",
]);

const errText = (err) => `${err?.code ? `${err.code}: ` : ""}${String(err?.message ?? err).slice(0, 160)}`;
// A refused connection may come wrapped (an HTTP/2 stream cancelled because its session could not connect).
const isRefusal = (err) =>
  REFUSED.has(err?.code) ||
  /permission|access denied|not allowed|disabled/i.test(String(err?.message)) ||
  (err?.cause !== undefined && err.cause !== err && isRefusal(err.cause));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one attempt; a thrown refusal is `denied`, anything else thrown is `error`. */
async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, refused: isRefusal(err), text: errText(err) };
  }
}

/** Reads every file of `files`: exposed if any is readable. */
async function readAny(files) {
  const seen = [];
  let refused = 0;
  for (const file of files) {
    const r = await attempt(() => fs.readFileSync(file));
    if (r.ok) seen.push(`${path.basename(file)} (${r.value.length} B)`);
    else if (r.refused) refused++;
    else return { outcome: "error", detail: `${file}: ${r.text}` };
  }
  if (seen.length) return { outcome: "exposed", detail: `read ${seen.join(", ")}` };
  return { outcome: "denied", detail: `${refused} of ${files.length} refused` };
}

/** Opens a TCP connection (or a Unix socket): resolves true when connected, with a 3 s timeout. */
function connects(options) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
    }, 3_000);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** One Connect-protocol unary call over h2c without any credentials: resolves with the HTTP status. */
function rpcWithoutCredentials(port, method, body) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(Object.assign(new Error("call timed out"), { code: "ETIMEDOUT" }));
    }, 3_000);
    session.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const req = session.request({ ":method": "POST", ":path": method, "content-type": "application/json" });
    let status = 0;
    let text = "";
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      if (text.length < 500) text += chunk;
    });
    req.once("end", () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, text });
    });
    req.once("error", (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    req.end(JSON.stringify(body));
  });
}

async function rpcProbe(port, method, body) {
  if (!port) return { outcome: "error", detail: "no port given by the suite" };
  const r = await attempt(() => rpcWithoutCredentials(port, method, body));
  if (!r.ok) return { outcome: r.refused ? "denied" : "error", detail: r.text };
  const { status, text } = r.value;
  // Connect answers unauthenticated with 401, permission_denied with 403.
  if (status === 401 || status === 403) return { outcome: "denied", detail: `${status} ${text.slice(0, 120)}` };
  // A 404 without a Connect error body is a router that does not know the method: aimed wrong.
  if (status === 404 && !text.trim()) return { outcome: "error", detail: `no such method on port ${port}` };
  return { outcome: "exposed", detail: `answered ${status} without credentials: ${text.slice(0, 120)}` };
}

async function reachProbe(options, what) {
  const r = await attempt(() => connects(options));
  if (r.ok) return { outcome: "exposed", detail: `connected to ${what}` };
  return { outcome: r.refused || /ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/.test(r.text) ? "denied" : "error", detail: r.text };
}

/** Where the embedded Postgres listens: TCP on 127.0.0.1, or a Unix socket in its data directory. */
function postgresTarget(ctx) {
  if (!ctx.postgres?.port) return undefined;
  return ctx.postgres.socketDir
    ? { path: path.join(ctx.postgres.socketDir, `.s.PGSQL.${ctx.postgres.port}`), what: "the Postgres socket" }
    : { host: "127.0.0.1", port: ctx.postgres.port, what: `Postgres on 127.0.0.1:${ctx.postgres.port}` };
}

/** Logs in to the embedded Postgres as its superuser, with `password`. */
async function postgresLogin(ctx, password) {
  const target = postgresTarget(ctx);
  const { default: pg } = await import("pg");
  const client = new pg.Client({
    host: target.path ? path.dirname(target.path) : "127.0.0.1",
    port: ctx.postgres.port,
    user: "postgres",
    database: "postgres",
    password,
    connectionTimeoutMillis: 3_000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query("SELECT current_user AS who, (SELECT count(*) FROM pg_authid) AS roles");
    return `logged in as ${rows[0].who} (pg_authid readable: ${rows[0].roles} roles)`;
  } finally {
    await client.end().catch(() => {});
  }
}

const PROBES = {
  /** LangOpen's secrets, or anything holding the suite's canary, in the graph's own environment. */
  async env(ctx) {
    const secretNames = [
      "DATABASE_URL",
      "REDIS_URL",
      "WEBHOOK_SECRET",
      "LANGOPEN_DATA_DIR",
      "LANGOPEN_INTERNAL_SECRET",
      "LANGOPEN_INTERNAL_SECRET_FILE",
      "LANGOPEN_RUNTIME_TOKEN",
      "LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256",
      "LANGOPEN_API_KEYS",
      "LANGOPEN_API_KEYS_FILE",
    ];
    const env = process.env;
    const found = secretNames.filter((name) => env[name] !== undefined);
    const canary = ctx.canary ? Object.keys(env).filter((k) => String(env[k]).includes(ctx.canary)) : [];
    // The runtime's own settings are not secrets, but the project declared none of them.
    const langopen = Object.keys(env).filter((k) => k.startsWith("LANGOPEN_") && !found.includes(k));
    const exposed = [...new Set([...found, ...canary])];
    const others = langopen.length ? `; other LANGOPEN_* seen: ${langopen.join(", ")}` : "";
    return exposed.length
      ? { outcome: "exposed", detail: `${exposed.join(", ")}${others}` }
      : { outcome: "denied", detail: `no secret among ${Object.keys(env).length} variables${others}` };
  },

  /** The launcher's environment through /proc (it held REDIS_URL and WEBHOOK_SECRET). */
  async "proc-parent-environ"(ctx) {
    const pids = [...new Set([process.ppid, ctx.launcherPid].filter(Boolean))];
    for (const pid of pids) {
      const r = await attempt(() => fs.readFileSync(`/proc/${pid}/environ`, "utf8"));
      if (r.ok) {
        const canary = ctx.canary && r.value.includes(ctx.canary) ? ", the canary secret in it" : "";
        return { outcome: "exposed", detail: `read /proc/${pid}/environ (${r.value.length} B${canary})` };
      }
      if (!r.refused) return { outcome: "error", detail: `/proc/${pid}/environ: ${r.text}` };
    }
    return { outcome: "denied", detail: `pids ${pids.join(", ")} refused` };
  },

  /** Every other process's environment. */
  async "proc-all-environ"() {
    const list = await attempt(() => fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)));
    if (!list.ok) return { outcome: list.refused ? "denied" : "error", detail: `readdir /proc: ${list.text}` };
    const others = list.value.filter((d) => Number(d) !== process.pid).slice(0, 5_000);
    let readable = 0;
    for (const pid of others) {
      try {
        if (fs.readFileSync(`/proc/${pid}/environ`).length >= 0) readable++;
      } catch {
        // refused or gone
      }
    }
    return readable
      ? { outcome: "exposed", detail: `${readable} of ${others.length} other processes' environ readable` }
      : { outcome: "denied", detail: `none of ${others.length} readable` };
  },

  /** The launcher's command line. */
  async "proc-parent-cmdline"(ctx) {
    return readAny([...new Set([process.ppid, ctx.launcherPid].filter(Boolean))].map((pid) => `/proc/${pid}/cmdline`));
  },

  /** The launcher's data directory: the internal secret, the Postgres password, pg_hba.conf, postmaster.pid. */
  async "data-dir"(ctx) {
    if (!ctx.dataDir) return { outcome: "error", detail: "no data directory given by the suite" };
    const files = ["internal-secret", "postgres-password", "postgres/pg_hba.conf", "postgres/postmaster.pid"].map((f) =>
      path.join(ctx.dataDir, f),
    );
    const read = await readAny(files);
    const dir = await attempt(() => fs.readdirSync(ctx.dataDir));
    if (dir.ok) return { outcome: "exposed", detail: `listed ${dir.value.join(", ")}; ${read.detail}` };
    return read;
  },

  async "etc-shadow"() {
    return readAny(["/etc/shadow"]);
  },

  /** A file of the repository outside the project (the LangOpen installation's own package.json). */
  async "read-outside-project"(ctx) {
    if (!ctx.repoFile) return { outcome: "error", detail: "no file given by the suite" };
    return readAny([ctx.repoFile]);
  },

  /** The launcher's own dist/main.js: opened for append (0 bytes written), and a new file beside it. */
  async "write-outside"(ctx) {
    if (!ctx.launcherMain) return { outcome: "error", detail: "no launcher path given by the suite" };
    const got = [];
    const append = await attempt(() => fs.closeSync(fs.openSync(ctx.launcherMain, "a")));
    if (append.ok) got.push("opened the launcher's main.js for writing (0 bytes written)");
    const beside = path.join(path.dirname(ctx.launcherMain), `.hostile-probe-${process.pid}-${Date.now()}`);
    const create = await attempt(() => fs.writeFileSync(beside, "hostile probe", { flag: "wx" }));
    if (create.ok) {
      got.push("created a file beside it (deleted)");
      await attempt(() => fs.unlinkSync(beside));
    }
    if (got.length) return { outcome: "exposed", detail: got.join("; ") };
    if (!append.refused || !create.refused) return { outcome: "error", detail: `${append.text}; ${create.text}` };
    return { outcome: "denied", detail: `append: ${append.text}; create: ${create.text}` };
  },

  /** The project folder is the graph's to read, not to change. */
  async "write-project"() {
    const file = path.join(PROJECT_DIR, `.hostile-probe-${process.pid}-${Date.now()}`);
    const r = await attempt(() => fs.writeFileSync(file, "hostile probe", { flag: "wx" }));
    if (r.ok) {
      await attempt(() => fs.unlinkSync(file));
      return { outcome: "exposed", detail: "created a file in the project folder (deleted)" };
    }
    return { outcome: r.refused ? "denied" : "error", detail: r.text };
  },

  /** Control: the scratch space (TMPDIR) must stay writable. */
  async "write-scratch"() {
    const dir = os.tmpdir();
    const file = path.join(dir, `hostile-control-${process.pid}-${Date.now()}`);
    const r = await attempt(() => {
      fs.writeFileSync(file, "scratch");
      const back = fs.readFileSync(file, "utf8");
      fs.unlinkSync(file);
      return back;
    });
    return r.ok && r.value === "scratch"
      ? { outcome: "allowed", detail: `wrote, read and deleted a file in ${dir} (HOME ${os.homedir()})` }
      : { outcome: r.ok ? "error" : r.refused ? "denied" : "error", detail: r.ok ? "read back something else" : r.text };
  },

  /** Control: the project's own files must stay readable. */
  async "read-project"() {
    const r = await attempt(() => JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "langgraph.json"), "utf8")));
    return r.ok
      ? { outcome: "allowed", detail: `read langgraph.json (${Object.keys(r.value.graphs ?? {}).length} graphs)` }
      : { outcome: r.refused ? "denied" : "error", detail: r.text };
  },

  async "child-process"() {
    const r = await attempt(() =>
      execSync("id", { timeout: 3_000, stdio: ["ignore", "pipe", "pipe"] })
        .toString()
        .trim(),
    );
    return r.ok ? { outcome: "exposed", detail: `id: ${r.value}` } : { outcome: r.refused ? "denied" : "error", detail: r.text };
  },

  /** Up to `forkBombMax` processes at once (each exits by itself after 2 s; all are killed at the end). */
  async "fork-bomb"(ctx) {
    const max = Math.min(Math.max(Number(ctx.forkBombMax) || 16, 1), 64);
    const children = [];
    let refusal;
    for (let i = 0; i < max; i++) {
      const r = await attempt(
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 2000)"], { stdio: "ignore" });
            child.once("spawn", () => resolve(child));
            child.once("error", reject);
          }),
      );
      if (!r.ok) {
        refusal = r;
        break;
      }
      children.push(r.value);
    }
    for (const child of children) child.kill("SIGKILL");
    if (children.length) return { outcome: "exposed", detail: `started ${children.length} of ${max} processes` };
    return { outcome: refusal?.refused ? "denied" : "error", detail: refusal?.text ?? "nothing started" };
  },

  async "worker-thread"() {
    const r = await attempt(
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker("require('node:worker_threads').parentPort.postMessage(process.pid)", { eval: true });
          const timer = setTimeout(() => {
            void worker.terminate();
            reject(new Error("the worker did not answer in 3 s"));
          }, 3_000);
          worker.once("message", (pid) => {
            clearTimeout(timer);
            void worker.terminate();
            resolve(pid);
          });
          worker.once("error", (err) => {
            clearTimeout(timer);
            reject(err);
          });
        }),
    );
    return r.ok
      ? { outcome: "exposed", detail: "a worker thread ran code" }
      : { outcome: r.refused ? "denied" : "error", detail: r.text };
  },

  /** A native addon found in node_modules (the suite names one). */
  async dlopen(ctx) {
    if (!ctx.addonPath) return { outcome: "error", detail: "no native addon in node_modules to try" };
    const mod = { exports: {} };
    const r = await attempt(() => process.dlopen(mod, ctx.addonPath));
    return r.ok
      ? { outcome: "exposed", detail: `loaded ${path.basename(ctx.addonPath)} (${Object.keys(mod.exports).length} exports)` }
      : { outcome: r.refused ? "denied" : "error", detail: r.text };
  },

  /** Signal 0 to the parent and the launcher: a permission check, no signal is delivered. */
  async "signal-parent"(ctx) {
    const pids = [...new Set([process.ppid, ctx.launcherPid].filter(Boolean))];
    const reached = [];
    const texts = [];
    for (const pid of pids) {
      const r = await attempt(() => process.kill(pid, 0));
      if (r.ok) reached.push(pid);
      else if (!r.refused && !/ESRCH/.test(r.text)) return { outcome: "error", detail: `${pid}: ${r.text}` };
      else texts.push(`${pid}: ${r.text}`);
    }
    return reached.length
      ? { outcome: "exposed", detail: `may signal pid ${reached.join(", ")} (signal 0 sent)` }
      : { outcome: "denied", detail: texts.join("; ") };
  },

  /** The embedded Postgres's only door, reached at all (login is the next probe). */
  async "net-postgres"(ctx) {
    const target = postgresTarget(ctx);
    if (!target) return { outcome: "error", detail: "no Postgres port given by the suite" };
    return reachProbe(target.path ? { path: target.path } : { host: target.host, port: target.port }, target.what);
  },

  /** Logs in to Postgres as superuser: without a password, then with the password file if readable. */
  async "postgres-login"(ctx) {
    if (!postgresTarget(ctx)) return { outcome: "error", detail: "no Postgres port given by the suite" };
    const stolen = ctx.dataDir
      ? await attempt(() => fs.readFileSync(path.join(ctx.dataDir, "postgres-password"), "utf8").trim())
      : undefined;
    const tries = [["no password", ""], ...(stolen?.ok ? [["the stolen password", stolen.value]] : [])];
    const texts = [];
    for (const [label, password] of tries) {
      const r = await attempt(() => postgresLogin(ctx, password));
      if (r.ok) return { outcome: "exposed", detail: `with ${label}: ${r.value}` };
      texts.push(`${label}: ${r.text}`);
    }
    return { outcome: "denied", detail: texts.join("; ") };
  },

  /** The api-server's internal port, reached at all. */
  async "net-api-rpc"(ctx) {
    if (!ctx.apiPort) return { outcome: "error", detail: "no api-server port given by the suite" };
    return reachProbe({ host: "127.0.0.1", port: ctx.apiPort }, `the api-server on 127.0.0.1:${ctx.apiPort}`);
  },

  /** An internal RPC to the api-server without credentials. */
  async "api-rpc-no-credentials"(ctx) {
    return rpcProbe(ctx.apiPort, "/langopen.data.v1.AssistantService/SearchAssistants", {});
  },

  /** An internal RPC to a runtime process (possibly a sibling) without credentials. */
  async "runtime-rpc-no-credentials"(ctx) {
    return rpcProbe(ctx.runtimePorts?.[0], "/langopen.runtime.v1.RuntimeService/DescribeGraph", { graphId: "echo" });
  },

  /**
   * Heap: keeps arrays alive until `maxMb` (past the runtime's heap limit). Reaching the bound is
   * "exposed"; the runtime process dying first ends the run in error, which the suite judges.
   */
  async "memory-heap"(ctx) {
    const maxMb = Math.min(Math.max(Number(ctx.memoryMaxMb) || 1_024, 16), 8_192);
    const keep = [];
    for (let mb = 0; mb < maxMb; mb += 8) {
      keep.push(new Array(1_048_576).fill(mb)); // 8 MB of tagged numbers each
      if (mb % 256 === 0) await sleep(1);
    }
    const held = keep.length * 8;
    keep.length = 0;
    return { outcome: "exposed", detail: `held ${held} MB on the heap without being stopped` };
  },

  /** Off the heap (Buffers): bounded at `memoryMaxMb` too; the heap limit does not count these. */
  async "memory-offheap"(ctx) {
    const maxMb = Math.min(Math.max(Number(ctx.memoryMaxMb) || 1_024, 16), 8_192);
    const keep = [];
    const r = await attempt(async () => {
      for (let mb = 0; mb < maxMb; mb += 64) {
        keep.push(Buffer.alloc(64 * 1_048_576, 1));
        await sleep(1);
      }
    });
    const held = keep.length * 64;
    keep.length = 0;
    if (r.ok) return { outcome: "exposed", detail: `held ${held} MB outside the heap without being stopped` };
    return { outcome: "denied", detail: `stopped at ${held} MB: ${r.text}` };
  },

  /** Never yields, for at most `loopMaxMs`: the run timeout and the runtime's watchdog must end it. */
  async "infinite-loop"(ctx) {
    const maxMs = Math.min(Math.max(Number(ctx.loopMaxMs) || 120_000, 1_000), 600_000);
    const started = Date.now();
    let sink = 0;
    while (Date.now() - started < maxMs) {
      for (let i = 0; i < 100_000; i++) sink = (sink + i) % 1_000_003;
    }
    return { outcome: "exposed", detail: `ran ${Date.now() - started} ms without being stopped${sink < 0 ? "!" : ""}` };
  },
};

export const PROBE_NAMES = Object.keys(PROBES);

/** Probes that must not be cut off at PROBE_TIMEOUT_MS: the server is what must stop them. */
const UNTIMED = new Set(["memory-heap", "memory-offheap", "infinite-loop"]);

export async function runProbe(name, ctx = {}) {
  const probe = PROBES[name];
  if (!probe) return { probe: name, outcome: "error", detail: `unknown probe; known: ${PROBE_NAMES.join(", ")}` };
  try {
    const work = Promise.resolve().then(() => probe(ctx));
    const result = UNTIMED.has(name)
      ? await work
      : await Promise.race([
          work,
          sleep(PROBE_TIMEOUT_MS).then(() => ({ outcome: "error", detail: `no answer in ${PROBE_TIMEOUT_MS / 1000} s` })),
        ]);
    return { probe: name, ...result };
  } catch (err) {
    return { probe: name, outcome: "error", detail: errText(err) };
  }
}
