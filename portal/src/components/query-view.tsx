import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ErrorBox } from "./error-box";
import { Loading } from "./loading";

interface QueryViewProps<T> {
  query: UseQueryResult<T, unknown>;
  /** Shown beside the spinner, e.g. "Loading threads…". */
  loading?: string;
  /** Prefixes the error, e.g. "Could not load the threads". */
  errorContext?: string;
  children: (data: T) => ReactNode;
}

/** A query's three states: loading, failed (with a retry), or its data. */
export function QueryView<T>({ query, loading, errorContext, children }: QueryViewProps<T>) {
  if (query.isPending) return <Loading label={loading} />;
  if (query.isError) return <ErrorBox error={query.error} context={errorContext} onRetry={() => void query.refetch()} />;
  return <>{children(query.data)}</>;
}
