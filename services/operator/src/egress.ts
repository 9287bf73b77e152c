import { isIP } from "node:net";
import { formatEgressEntry, SPECIAL_PURPOSE_CIDRS } from "@langopen/common";
import type { AgentDeployment } from "./generated/agent-deployment.js";

/*
 * What graph code may reach of what its project declared (spec.egress): never the special-purpose
 * address space (the cluster's own networks, loopback, link-local and the cloud metadata endpoint,
 * shared and private ranges, multicast, reserved), unless the installation allows a block of it
 * (the operator's egressAllowedCidrs). Everything else declared opens as before.
 *
 * The address arithmetic is written here, on BigInt, rather than with node:net's BlockList: a
 * BlockList answers whether one address is in its ranges, and this needs more: whether one block
 * lies inside another, the blocks inside a declared one (for ipBlock.except), and the IPv4 address
 * inside an IPv4-mapped IPv6 one. egress.test.ts checks it against BlockList.
 */

/** An address block: its family, its network address (the bits past the prefix cleared) and its prefix length. */
export interface Block {
  family: 4 | 6;
  network: bigint;
  prefix: number;
  /** As NetworkPolicy gets it: as written, or (an IPv4-mapped block) as IPv4. */
  text: string;
}

const WIDTH = { 4: 32, 6: 128 } as const;
/** ::ffff:0:0/96: the IPv4-mapped addresses (their last 32 bits are an IPv4 address). */
const MAPPED_PREFIX = 0xffffn << 32n;

/** The special-purpose blocks no runtime reaches unless the installation allows them. */
export const DENIED_CIDRS = SPECIAL_PURPOSE_CIDRS;

/**
 * `address/prefix` as a block, or why it is not one. Bits set past the prefix are refused when
 * `exact` (settings must say what they mean), else cleared (a resource written by hand may carry
 * them; the API server judges such a cidr by its network, and so is it judged here). An IPv4-mapped
 * block (inside ::ffff:0:0/96, prefix 96 or more) is its IPv4 block: that is what its packets carry.
 */
export function parseBlock(text: string, options: { exact?: boolean } = {}): Block | { problem: string } {
  const slash = text.lastIndexOf("/");
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const family = slash > 0 && !address.includes("%") ? isIP(address) : 0;
  if (family !== 4 && family !== 6) return { problem: `${JSON.stringify(text)} is not an address block such as 10.20.0.0/16` };
  const width = WIDTH[family];
  if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > width)
    return { problem: `the prefix length of ${JSON.stringify(text)} must be a number from 0 to ${width}` };
  const prefix = Number(prefixText);
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const network = bits & mask(family, prefix);
  if (options.exact && network !== bits)
    return { problem: `${JSON.stringify(text)} has bits set past its prefix length (write its network address)` };
  if (family === 6 && prefix >= 96 && network >> 32n === 0xffffn) {
    const v4 = network & 0xffffffffn;
    return { family: 4, network: v4, prefix: prefix - 96, text: `${formatIpv4(v4)}/${prefix - 96}` };
  }
  return { family, network, prefix, text };
}

const isBlock = (value: Block | { problem: string }): value is Block => !("problem" in value);

/** Whether `inner` lies inside `outer` (equal counts). */
export function contains(outer: Block, inner: Block): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    (inner.network & mask(outer.family, outer.prefix)) === outer.network
  );
}

function mask(family: 4 | 6, prefix: number): bigint {
  const width = BigInt(WIDTH[family]);
  return ((1n << width) - 1n) ^ ((1n << (width - BigInt(prefix))) - 1n);
}

/** An IPv4 address isIP accepted (four decimal octets) as its 32 bits. */
function ipv4Bits(address: string): bigint {
  return address.split(".").reduce((bits, octet) => (bits << 8n) | BigInt(Number(octet)), 0n);
}

/** An IPv6 address isIP accepted (`::`, a trailing IPv4 part) as its 128 bits. */
function ipv6Bits(address: string): bigint {
  let text = address.toLowerCase();
  const last = text.lastIndexOf(":");
  if (text.slice(last + 1).includes(".")) {
    const v4 = ipv4Bits(text.slice(last + 1));
    text = `${text.slice(0, last + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const [head = "", tail] = text.split("::");
  const before = groupsOf(head);
  const after = tail === undefined ? [] : groupsOf(tail);
  const groups =
    tail === undefined ? before : [...before, ...new Array<string>(8 - before.length - after.length).fill("0"), ...after];
  return groups.reduce((bits, group) => (bits << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

const formatIpv4 = (bits: bigint) => [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 0xffn)).join(".");

const DENIED: Block[] = DENIED_CIDRS.map((cidr): Block => {
  const block = parseBlock(cidr, { exact: true });
  if (!isBlock(block)) throw new Error(block.problem);
  // ::ffff:0:0/96 is every IPv4 address, mapped: kept as the IPv6 block it is (inside ::/0, say).
  return cidr === "::ffff:0:0/96" ? { family: 6, network: MAPPED_PREFIX, prefix: 96, text: cidr } : block;
});

/** The problems of the installation's allowed blocks (none: all are blocks, written as their network). */
export function allowedCidrProblems(cidrs: readonly string[]): string[] {
  return cidrs.flatMap((cidr, i) => {
    const block = parseBlock(cidr, { exact: true });
    return isBlock(block) ? [] : [`/egressAllowedCidrs/${i}: ${block.problem}`];
  });
}

/** A NetworkPolicy peer of graph code's egress. */
export type IpBlockPeer = { ipBlock: { cidr: string; except?: string[] } };

/** One declared destination as the runtimes' NetworkPolicy opens it, and what of it stays closed. */
export interface EgressPlanEntry {
  /** The entry as langgraph.json writes it, such as `api.openai.com:443`. */
  entry: string;
  ports: number[];
  /** What opens (none: the entry opens nothing). */
  peers: IpBlockPeer[];
  /** The blocks or addresses of the entry kept closed: special-purpose ones the installation does not allow. */
  refused: string[];
  /** For people: what was kept closed and why (absent: the entry opens as declared). */
  note?: string;
}

/**
 * The egress of graph code: each declared block and each address a declared host resolved to,
 * judged against the special-purpose blocks. A block inside one is not opened; a block holding
 * some opens without them (ipBlock.except); an address in one is dropped. Blocks the installation
 * allows open as declared. Pure: the same inputs give the same plan (render and reconcile agree).
 */
export function planEgress(
  egress: NonNullable<AgentDeployment["spec"]["egress"]>,
  resolvedHosts: Record<string, string[]>,
  allowedCidrs: readonly string[] = [],
): EgressPlanEntry[] {
  const allowed = allowedCidrs.map((cidr) => parseBlock(cidr)).filter(isBlock);
  return egress.map((e) => {
    const entry = formatEgressEntry(e);
    if (e.cidr !== undefined) {
      const block = parseBlock(e.cidr);
      if (!isBlock(block)) return { entry, ports: e.ports, peers: [], refused: [e.cidr], note: "not an address block" };
      const judged = judge(block, allowed);
      const opened = judged.peers.map((p) => p.ipBlock.cidr);
      const note =
        judged.refused.length === 0
          ? undefined
          : judged.narrowed
            ? `opened without ${judged.refused.join(", ")}`
            : opened.length > 0
              ? `only ${opened.join(", ")} opened`
              : "not opened";
      return { entry, ports: e.ports, peers: sorted(judged.peers), refused: judged.refused, ...(note ? { note } : {}) };
    }
    const peers: IpBlockPeer[] = [];
    const refused: string[] = [];
    for (const ip of resolvedHosts[e.host ?? ""] ?? []) {
      const block = parseBlock(ip.includes(":") ? `${ip}/128` : `${ip}/32`);
      // An address is a block of one: open whole, or closed (it cannot hold a denied block).
      const judged = isBlock(block) ? judge(block, allowed) : { peers: [], refused: [ip] };
      peers.push(...judged.peers);
      if (judged.refused.length > 0) refused.push(ip);
    }
    const note = refused.length > 0 ? `resolved to ${refused.join(", ")}, not opened` : undefined;
    return { entry, ports: e.ports, peers: sorted(peers), refused, ...(note ? { note } : {}) };
  });
}

/** Without duplicates, by cidr (the same addresses in any order give the same policy). */
function sorted(peers: IpBlockPeer[]): IpBlockPeer[] {
  const unique = new Map(peers.map((p) => [JSON.stringify(p), p]));
  return [...unique.values()].sort((a, b) => (a.ipBlock.cidr < b.ipBlock.cidr ? -1 : a.ipBlock.cidr > b.ipBlock.cidr ? 1 : 0));
}

/**
 * One block: open (inside an allowed block); closed but for the allowed blocks inside it (inside a
 * denied block); or open less the denied blocks inside it that are not allowed, and the allowed
 * blocks inside those. Blocks nest or are disjoint, and the denied ones are disjoint, so these are
 * all the cases; `except` holds strict subsets of the cidr, as Kubernetes requires.
 */
function judge(block: Block, allowed: Block[]): { peers: IpBlockPeer[]; refused: string[]; narrowed: boolean } {
  const whole = { peers: [{ ipBlock: { cidr: block.text } }], refused: [], narrowed: false };
  if (allowed.some((a) => contains(a, block))) return whole;
  const strictlyInside = (outer: Block) => (inner: Block) => inner.prefix > outer.prefix && contains(outer, inner);
  if (DENIED.some((d) => contains(d, block)))
    return {
      peers: allowed.filter(strictlyInside(block)).map((a) => ({ ipBlock: { cidr: a.text } })),
      refused: [block.text],
      narrowed: false,
    };
  const except = DENIED.filter(strictlyInside(block)).filter((d) => !allowed.some((a) => contains(a, d)));
  if (except.length === 0) return whole;
  const reopened = allowed.filter((a) => except.some((d) => strictlyInside(d)(a)));
  return {
    peers: [
      { ipBlock: { cidr: block.text, except: except.map((d) => d.text) } },
      ...reopened.map((a) => ({ ipBlock: { cidr: a.text } })),
    ],
    refused: except.map((d) => d.text),
    narrowed: true,
  };
}

/** The reason of the EgressRestricted condition. */
export const EGRESS_REFUSED_REASON = "PrivateAddressRefused";

/** What a plan kept closed, for people (the AgentDeployment's EgressRestricted condition); undefined: nothing. */
export function describeRefusals(plan: EgressPlanEntry[]): string | undefined {
  const parts = plan.flatMap((p) => (p.note ? [`${p.entry} (${p.note})`] : []));
  if (parts.length === 0) return undefined;
  return (
    "graph code may not reach private or special-purpose addresses this installation does not allow " +
    `(the operator's egressAllowedCidrs): ${parts.join("; ")}`
  );
}
