import { EventEmitter } from "node:events";
import type { Logger, Redis } from "@langopen/common";

/**
 * One subscriber connection per process, shared by the notices and the event logs: messages of
 * every subscribed channel are re-emitted locally under the channel's name. Channels that many
 * readers follow at once (a log's announcements) are subscribed while at least one reader holds them.
 */
export interface RedisChannels {
  readonly emitter: EventEmitter;
  /** Subscribes to channels for good (notices every process listens to). */
  subscribe(...channels: string[]): void;
  /** Subscribes while held; the last release unsubscribes. */
  acquire(channel: string): Promise<void>;
  release(channel: string): Promise<void>;
  close(): void;
}

export function createRedisChannels(redis: Redis, logger: Logger): RedisChannels {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let subscriber: Redis | undefined;
  const refs = new Map<string, number>();
  const connection = () => {
    if (!subscriber) {
      subscriber = redis.duplicate();
      subscriber.on("error", (err) => logger.debug({ err }, "Redis subscriber error"));
      subscriber.on("message", (channel: string, message: string) => emitter.emit(channel, message));
    }
    return subscriber;
  };
  return {
    emitter,
    subscribe(...channels) {
      connection()
        .subscribe(...channels)
        .catch((err: unknown) => logger.debug({ err, channels }, "Failed to subscribe to Redis channels"));
    },
    async acquire(channel) {
      const n = refs.get(channel) ?? 0;
      refs.set(channel, n + 1);
      if (n === 0) await connection().subscribe(channel);
    },
    async release(channel) {
      const n = (refs.get(channel) ?? 1) - 1;
      if (n <= 0) {
        refs.delete(channel);
        await subscriber?.unsubscribe(channel).catch(() => {});
      } else refs.set(channel, n);
    },
    close() {
      subscriber?.disconnect();
      emitter.removeAllListeners();
    },
  };
}
