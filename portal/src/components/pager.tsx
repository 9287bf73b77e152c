import { Link, useSearchParams } from "react-router";

/** Reads ?page= (from 1) for lists paged by offset. */
export function usePage(): number {
  const [params] = useSearchParams();
  return Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
}

/**
 * Previous/next links for a list paged by offset (?page=). `shown`: the rows on this page; there is
 * more when a known total says so or, with no total, when the page came back full.
 */
export function Pager({ page, shown, total, pageSize }: { page: number; shown: number; total?: number; pageSize: number }) {
  const [params] = useSearchParams();
  const hasMore = total !== undefined ? page * pageSize < total : shown === pageSize;
  if (page === 1 && !hasMore) return null;
  const link = (to: number) => {
    const next = new URLSearchParams(params);
    if (to > 1) next.set("page", String(to));
    else next.delete("page");
    return `?${next}`;
  };
  const pages = total === undefined ? undefined : Math.max(1, Math.ceil(total / pageSize));
  return (
    <nav className="pager" aria-label="Pages">
      {page > 1 ? <Link to={link(page - 1)}>Previous</Link> : <span />}
      <span>
        Page {page}
        {pages !== undefined && ` of ${pages}`}
      </span>
      {hasMore ? <Link to={link(page + 1)}>Next</Link> : <span />}
    </nav>
  );
}
