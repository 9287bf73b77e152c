import { timestampFromDate } from "@bufbuild/protobuf/wkt";

export const ts = (date: Date) => timestampFromDate(date);
export const tsOrUndefined = (date: Date | null) => (date ? timestampFromDate(date) : undefined);
