import { fileURLToPath } from "node:url";
import { type Logger, migrate } from "@langopen/common";

/** The data plane's schema: numbered SQL files, applied in order (node-pg-migrate). */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Brings a database to the data plane's newest schema; several processes may call it at once. */
export function migrateDataPlane(databaseUrl: string, logger: Logger): Promise<void> {
  return migrate(databaseUrl, MIGRATIONS_DIR, logger);
}
