import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  service: string;
  level: LevelWithSilent;
  version?: string;
}

/** The root logger of a process: JSON lines on stdout, secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    level: options.level,
    base: { service: options.service, version: options.version ?? "0.1.0" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["x-api-key"]',
        "req.headers.cookie",
        "*.password",
        "*.token",
        "databaseUrl",
        "redisUrl",
      ],
      censor: "[redacted]",
    },
  });
}
