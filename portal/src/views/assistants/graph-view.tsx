import "@xyflow/react/dist/style.css";
import { useQuery } from "@connectrpc/connect-query";
import {
  AssistantService,
  type GetAssistantGraphResponse,
  type GetAssistantSubgraphsResponse,
} from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
} from "@xyflow/react";
import { useMemo } from "react";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { decodeJson, isJsonObject } from "../../lib/json";
import { layoutGraph, type NodeKind } from "./graph-layout";
import type { NodeStatus, Progress } from "./run-events";

type GraphNodeData = { label: string; kind: NodeKind; group?: string; status?: NodeStatus };
type GraphNode = Node<GraphNodeData, "graph">;

const STATUS_TEXT: Record<NodeStatus, string> = {
  running: "running",
  done: "finished",
  error: "failed",
  interrupted: "interrupted",
};

function GraphNodeView({ data }: NodeProps<GraphNode>) {
  const classes = ["graph-node", `graph-node-${data.kind}`];
  if (data.status) classes.push(`is-${data.status}`);
  return (
    <div className={classes.join(" ")} title={data.status ? `${data.label}: ${STATUS_TEXT[data.status]}` : data.label}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      {data.group && <span className="graph-node-group">{data.group}</span>}
      <span className="graph-node-label">{data.label}</span>
      {data.kind === "subgraph" && <span className="graph-node-group">subgraph</span>}
      {data.status && <span className="visually-hidden"> ({STATUS_TEXT[data.status]})</span>}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
      {/* Edges that go back up leave and arrive on the side, so they do not run through the nodes between. */}
      <Handle type="source" id="back-out" position={Position.Right} isConnectable={false} />
      <Handle type="target" id="back-in" position={Position.Right} isConnectable={false} />
    </div>
  );
}

// Module-level: React Flow re-creates every node when this object changes identity.
const NODE_TYPES = { graph: GraphNodeView };

function selectGraph(response: GetAssistantGraphResponse): unknown {
  return decodeJson(response.graphJson);
}

/** The graph's direct subgraphs: the namespaces without a separator. */
function selectSubgraphs(response: GetAssistantSubgraphsResponse): string[] {
  const all = decodeJson(response.subgraphsJson);
  return isJsonObject(all) ? Object.keys(all).filter((namespace) => !namespace.includes("|")) : [];
}

export interface GraphViewProps {
  assistantId: string;
  /** Expand subgraphs into their nodes. */
  xray?: boolean;
  /** A run's progress: running and finished nodes are highlighted. */
  progress?: Progress;
  compact?: boolean;
}

/** The assistant's graph, laid out top to bottom; the nodes of a run are marked as it goes. */
export function GraphView({ assistantId, xray = false, progress, compact = false }: GraphViewProps) {
  const graph = useQuery(
    AssistantService.method.getAssistantGraph,
    { assistantId, xray: xray ? -1 : 0 },
    { select: selectGraph, staleTime: 60_000 },
  );
  // Only to mark subgraph nodes: the graph draws without it.
  const subgraphs = useQuery(
    AssistantService.method.getAssistantSubgraphs,
    { assistantId },
    { select: selectSubgraphs, staleTime: 60_000, retry: false },
  );
  const subgraphNames = subgraphs.data;
  const layout = useMemo(() => layoutGraph(graph.data, new Set(subgraphNames)), [graph.data, subgraphNames]);

  const nodes = useMemo<GraphNode[]>(
    () =>
      layout.nodes.map((node) => ({
        id: node.id,
        type: "graph",
        position: { x: node.x, y: node.y },
        width: node.width,
        height: node.height,
        data: { label: node.label, kind: node.kind, group: node.group, status: progress?.nodes[node.id] },
        draggable: false,
        connectable: false,
      })),
    [layout, progress],
  );
  const edges = useMemo<Edge[]>(
    () =>
      layout.edges.map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        label: edge.label,
        ...(edge.back && {
          sourceHandle: "back-out",
          targetHandle: "back-in",
          type: "smoothstep",
          pathOptions: { offset: 28, borderRadius: 10 },
        }),
        className: edge.conditional ? "graph-edge graph-edge-conditional" : "graph-edge",
        markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
        animated: progress?.nodes[edge.source] === "done" && progress?.nodes[edge.target] === "running",
      })),
    [layout, progress],
  );

  const className = compact ? "graph-canvas graph-canvas-compact" : "graph-canvas";
  if (graph.isPending) return <Loading label="Loading the graph…" />;
  if (graph.isError)
    return <ErrorBox error={graph.error} context="Could not draw the graph" onRetry={() => void graph.refetch()} />;
  if (layout.nodes.length === 0) return <p className="empty">The server described no nodes for this graph.</p>;
  return (
    <div className={className}>
      <ReactFlow
        // A new layout (xray on or off) is a new picture: fit it afresh.
        key={xray ? "xray" : "plain"}
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        fitView
        fitViewOptions={{ padding: 0.15, maxZoom: 1.2 }}
        minZoom={0.2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
