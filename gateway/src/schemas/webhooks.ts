import { Type } from "typebox";
import { Limit, Offset, StringEnum, Uuid } from "./common.js";

export const WEBHOOK_STATUSES = ["pending", "delivered", "failed"] as const;

export const WebhookRunParams = Type.Object({
  run_id: Uuid(),
});

/** GET /runs/{run_id}/webhooks. */
export const WebhookListQuery = Type.Object({
  status: Type.Optional(StringEnum(WEBHOOK_STATUSES)),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
});
