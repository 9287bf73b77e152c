/**
 * Types the values the global setup hands to test files, so `inject("databaseUrl")` is a string.
 * Importing anything from @langopen/testkit brings this augmentation in.
 */
import type {} from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the run's throwaway PostgreSQL server; give it to createTestDatabase. */
    databaseUrl: string;
    /** URL of the run's throwaway Redis server, shared by every test file: prefix your keys. */
    redisUrl: string;
  }
}
