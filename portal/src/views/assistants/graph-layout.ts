// The drawable graph GetAssistantGraph answers ({nodes, edges}, as LangChain's Graph.toJSON()),
// laid out top to bottom with dagre for React Flow.
import dagre from "@dagrejs/dagre";
import { isJsonObject } from "../../lib/json";
import { idOf } from "./graph-json";

export type NodeKind = "start" | "end" | "node" | "subgraph";

export interface LaidOutNode {
  id: string;
  label: string;
  kind: NodeKind;
  /** The subgraph a node belongs to when xray expanded it (`child` of `child:inner`). */
  group?: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidOutEdge {
  id: string;
  source: string;
  target: string;
  conditional: boolean;
  /** Goes back up (a loop): drawn beside the nodes rather than through them. */
  back: boolean;
  label?: string;
}

export interface GraphLayout {
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
}

const NODE_HEIGHT = 40;

function nodeWidth(label: string): number {
  return Math.max(110, Math.min(280, label.length * 8 + 40));
}

function kindOf(id: string, subgraphs: ReadonlySet<string>): NodeKind {
  const local = id.split(":").at(-1) ?? id;
  if (local === "__start__") return "start";
  if (local === "__end__") return "end";
  return subgraphs.has(id) ? "subgraph" : "node";
}

/**
 * Positions for the graph's nodes and the edges between them. `subgraphs` names the nodes that
 * are subgraphs (when xray does not expand them). Unknown shapes yield an empty layout.
 */
export function layoutGraph(graph: unknown, subgraphs: ReadonlySet<string> = new Set()): GraphLayout {
  if (!isJsonObject(graph) || !Array.isArray(graph.nodes) || !Array.isArray(graph.edges)) return { nodes: [], edges: [] };
  const layout = new dagre.graphlib.Graph({ multigraph: true });
  layout.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 56, marginx: 16, marginy: 16 });
  layout.setDefaultEdgeLabel(() => ({}));

  const nodes: Omit<LaidOutNode, "x" | "y">[] = [];
  for (const raw of graph.nodes) {
    const id = isJsonObject(raw) ? idOf(raw.id) : undefined;
    if (id === undefined || layout.hasNode(id)) continue;
    const kind = kindOf(id, subgraphs);
    const parts = id.split(":");
    const label = kind === "start" ? "start" : kind === "end" ? "end" : (parts.at(-1) ?? id);
    const node: Omit<LaidOutNode, "x" | "y"> = { id, label, kind, width: nodeWidth(label), height: NODE_HEIGHT };
    if (parts.length > 1) node.group = parts.slice(0, -1).join(":");
    nodes.push(node);
    layout.setNode(id, { width: node.width, height: node.height });
  }

  const edges: LaidOutEdge[] = [];
  graph.edges.forEach((raw, i) => {
    if (!isJsonObject(raw)) return;
    const source = idOf(raw.source);
    const target = idOf(raw.target);
    if (source === undefined || target === undefined || !layout.hasNode(source) || !layout.hasNode(target)) return;
    const edge: LaidOutEdge = {
      id: `e${i}:${source}->${target}`,
      source,
      target,
      conditional: raw.conditional === true,
      back: false,
    };
    // A conditional edge's data is the branch's name when the router names it.
    if (typeof raw.data === "string" && raw.data !== "" && raw.data !== target) edge.label = raw.data;
    edges.push(edge);
    layout.setEdge(source, target, edge.label ? { width: edge.label.length * 7, height: 16 } : {}, edge.id);
  });

  dagre.layout(layout);
  // dagre centres nodes on their position; React Flow places them by their top-left corner.
  const placed = nodes.map((node) => {
    const position = layout.node(node.id);
    return { ...node, x: (position?.x ?? 0) - node.width / 2, y: (position?.y ?? 0) - node.height / 2 };
  });
  const rowOf = new Map(placed.map((node) => [node.id, node.y]));
  return {
    nodes: placed,
    edges: edges.map((edge) => ({ ...edge, back: (rowOf.get(edge.target) ?? 0) <= (rowOf.get(edge.source) ?? 0) })),
  };
}
