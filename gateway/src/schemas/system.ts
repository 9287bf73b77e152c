import { Type } from "typebox";
import { QueryBool } from "./common.js";

/** GET /ok: the spec has `check_db=0|1`; the other boolean spellings are accepted too. */
export const OkQuery = Type.Object({
  check_db: Type.Optional(QueryBool()),
});
