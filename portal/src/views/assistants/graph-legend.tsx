/** What the colours of the graph mean. */
export function GraphLegend() {
  return (
    <ul className="legend" aria-label="Legend">
      <li>
        <span className="legend-swatch is-running" /> running
      </li>
      <li>
        <span className="legend-swatch is-done" /> finished
      </li>
      <li>
        <span className="legend-swatch is-interrupted" /> interrupted
      </li>
      <li>
        <span className="legend-swatch is-error" /> failed
      </li>
      <li>
        <span className="legend-edge" /> conditional edge
      </li>
    </ul>
  );
}
