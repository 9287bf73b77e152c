/** A spinner with a text for screen readers and for slow connections. */
export function Loading({ label = "Loading…", inline = false }: { label?: string; inline?: boolean }) {
  return (
    <div className={inline ? "loading loading-inline" : "loading"} role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}
