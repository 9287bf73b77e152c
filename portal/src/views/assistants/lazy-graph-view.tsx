import { lazy, Suspense } from "react";
import { Loading } from "../../components/loading";
import type { GraphViewProps } from "./graph-view";

// React Flow and dagre are most of the app's weight: they load with the first graph shown, not
// with the app.
const LoadedGraphView = lazy(() => import("./graph-view").then((module) => ({ default: module.GraphView })));

export function GraphView(props: GraphViewProps) {
  return (
    <Suspense fallback={<Loading label="Loading the graph…" />}>
      <LoadedGraphView {...props} />
    </Suspense>
  );
}
