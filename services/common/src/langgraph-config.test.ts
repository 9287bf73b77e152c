import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EgressEntry,
  formatEgressEntry,
  MAX_EGRESS_ENTRIES,
  MAX_EGRESS_PORTS,
  parseEgress,
  readLanggraphConfig,
} from "./langgraph-config.js";

describe("parseEgress", () => {
  it.each<[string, EgressEntry, string]>([
    ["api.openai.com:443", { host: "api.openai.com", ports: [443] }, "api.openai.com:443"],
    ["*.anthropic.com:443", { host: "*.anthropic.com", ports: [443] }, "*.anthropic.com:443"],
    ["API.OpenAI.com.:443", { host: "api.openai.com", ports: [443] }, "api.openai.com:443"],
    ["redis:6379", { host: "redis", ports: [6379] }, "redis:6379"],
    [" db.internal : 8443, 443,443 ", { host: "db.internal", ports: [443, 8443] }, "db.internal:443,8443"],
    ["203.0.113.0/24:443,8443", { cidr: "203.0.113.0/24", ports: [443, 8443] }, "203.0.113.0/24:443,8443"],
    ["203.0.113.7/32:443", { cidr: "203.0.113.7/32", ports: [443] }, "203.0.113.7/32:443"],
    ["0.0.0.0/0:443", { cidr: "0.0.0.0/0", ports: [443] }, "0.0.0.0/0:443"],
    ["[2001:db8::]/32:443", { cidr: "2001:db8::/32", ports: [443] }, "[2001:db8::]/32:443"],
    ["[2001:0DB8:0:0:0:0:0:1]/128:443", { cidr: "2001:db8::1/128", ports: [443] }, "[2001:db8::1]/128:443"],
    ["[::ffff:192.0.2.0]/120:443", { cidr: "::ffff:c000:200/120", ports: [443] }, "[::ffff:c000:200]/120:443"],
  ])("reads %j", (text, entry, normalized) => {
    expect(parseEgress([text])).toEqual({ entries: [entry], problems: [] });
    expect(formatEgressEntry(entry)).toBe(normalized);
  });

  it("merges entries naming the same destination, in the order first named", () => {
    expect(parseEgress(["api.openai.com:443", "10.0.0.0/8:5432", "API.openai.com:8443,443"])).toEqual({
      entries: [
        { host: "api.openai.com", ports: [443, 8443] },
        { cidr: "10.0.0.0/8", ports: [5432] },
      ],
      problems: [],
    });
  });

  it("reads nothing from an absent or empty list", () => {
    expect(parseEgress(undefined)).toEqual({ entries: [], problems: [] });
    expect(parseEgress([])).toEqual({ entries: [], problems: [] });
  });

  it.each([
    ["api.openai.com", 'egress entry "api.openai.com": it names no port: write "host:port" or "cidr:port"'],
    ["[2001:db8::]/32", 'egress entry "[2001:db8::]/32": it names no port'],
    [":443", "it names no host or address before the port"],
    ["api.openai.com:0", 'egress entry "api.openai.com:0": port "0" is not a number from 1 to 65535'],
    ["api.openai.com:65536", 'port "65536" is not a number from 1 to 65535'],
    ["api.openai.com:https", 'port "https" is not a number from 1 to 65535'],
    ["api.openai.com:443,", "a port is missing"],
    ["api.openai.com:8000-8100", "port ranges (8000-8100) are not supported: list the ports"],
    [`api.openai.com:${Array.from({ length: 17 }, (_, i) => i + 1).join(",")}`, "17 ports, more than 16"],
    ["api_openai.com:443", 'egress entry "api_openai.com:443": "api_openai.com" is not a valid host name (label "api_openai")'],
    ["-api.openai.com:443", 'is not a valid host name (label "-api")'],
    ["api..openai.com:443", 'is not a valid host name (label "")'],
    [`${"a".repeat(64)}.com:443`, "is not a valid host name"],
    [`${"abcdefghi.".repeat(26)}com:443`, "the host name has more than 253 characters"],
    ["bücher.de:443", "write internationalized names in punycode"],
    ["*.com:443", '"*.com": a wildcard covers the subdomains of a domain of two labels or more'],
    ["*:443", "a wildcard covers the subdomains"],
    ["api.*.com:443", "a wildcard covers the subdomains"],
    ["1.2.3:443", '"1.2.3" is neither a host name nor an IPv4 address'],
    ["203.0.113.5:443", "an address needs a prefix length: write 203.0.113.5/32 for this address alone"],
    ["203.0.113.5/24:443", "203.0.113.5/24 has bits set past its prefix length: the block is 203.0.113.0/24"],
    ["203.0.113.0/33:443", "the prefix length of 203.0.113.0/33 must be a number from 0 to 32"],
    ["203.0.113.0/024:443", "the prefix length of 203.0.113.0/024 must be a number from 0 to 32"],
    ["203.0.113.0/:443", "the prefix length of 203.0.113.0/ must be a number"],
    ["203.0.113.256/24:443", '"203.0.113.256" is not an IPv4 address'],
    ["010.0.0.0/8:443", '"010.0.0.0" is not an IPv4 address'],
    ["example.com/24:443", '"example.com" is not an IPv4 address'],
    ["2001:db8::/32:443", "an IPv6 address or block is written in brackets, such as [2001:db8::]/32:443"],
    ["[2001:db8::1]:443", "an address needs a prefix length: write [2001:db8::1]/128 for this address alone"],
    ["[2001:db8::1]/64:443", "[2001:db8::1]/64 has bits set past its prefix length: the block is [2001:db8::]/64"],
    ["[2001:db8::]/129:443", "the prefix length of [2001:db8::]/129 must be a number from 0 to 128"],
    ["[fe80::1%eth0]/128:443", '"fe80::1%eth0" is not an IPv6 address'],
    ["[203.0.113.0]/24:443", '"203.0.113.0" is not an IPv6 address'],
    ["[2001:db8::/32:443", "is not an IPv6 address"],
  ])("refuses %j, naming it", (text, problem) => {
    const { entries, problems } = parseEgress([text]);
    expect(entries).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });

  it("refuses what is not a list of strings", () => {
    expect(parseEgress("api.openai.com:443").problems).toEqual([
      '"egress" must be a list of strings such as "api.openai.com:443" or "203.0.113.0/24:443", got "api.openai.com:443"',
    ]);
    expect(parseEgress(null).problems).toHaveLength(1);
    expect(parseEgress({ host: "api.openai.com" }).problems[0]).toMatch(/^"egress" must be a list/);
    expect(parseEgress(["api.openai.com:443", 443, { host: "x" }])).toEqual({
      entries: [{ host: "api.openai.com", ports: [443] }],
      problems: [
        'egress entry 443 must be a string such as "api.openai.com:443"',
        'egress entry {"host":"x"} must be a string such as "api.openai.com:443"',
      ],
    });
  });

  it("names every bad entry, and keeps the good ones", () => {
    const { entries, problems } = parseEgress(["api.openai.com:443", "bad host:443", "203.0.113.0/24:0"]);
    expect(entries).toEqual([{ host: "api.openai.com", ports: [443] }]);
    expect(problems).toEqual([
      'egress entry "bad host:443": "bad host" is not a valid host name (label "bad host")',
      'egress entry "203.0.113.0/24:0": port "0" is not a number from 1 to 65535',
    ]);
  });

  it("refuses more than 64 destinations and more than 16 ports of one destination once merged", () => {
    const many = Array.from({ length: MAX_EGRESS_ENTRIES + 1 }, (_, i) => `host-${i}.example.com:443`);
    expect(parseEgress(many.slice(0, MAX_EGRESS_ENTRIES)).problems).toEqual([]);
    expect(parseEgress(many).problems).toEqual(['"egress" names 65 destinations, more than 64']);
    // The same destination named 65 times is one.
    expect(parseEgress(Array.from({ length: 65 }, () => "api.openai.com:443")).problems).toEqual([]);

    const ports = Array.from({ length: MAX_EGRESS_PORTS + 1 }, (_, i) => 8000 + i);
    expect(parseEgress([`api.openai.com:${ports.slice(0, 8).join(",")}`, `api.openai.com:${ports.slice(8).join(",")}`])).toEqual({
      entries: [{ host: "api.openai.com", ports }],
      problems: ["the egress entries of api.openai.com list 17 ports together, more than 16"],
    });
  });

  it("cuts a long entry short in its message", () => {
    const [problem] = parseEgress([`${"x".repeat(5000)}:443`]).problems;
    expect(problem?.length).toBeLessThan(400);
  });
});

/** An IPv4 block with no bits past its prefix, as text. */
const ipv4Block = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 })).map(([n, prefix]) => {
  const network = prefix === 0 ? 0 : (n & (-1 << (32 - prefix))) >>> 0;
  return `${[24, 16, 8, 0].map((shift) => (network >>> shift) & 0xff).join(".")}/${prefix}`;
});
const ports = fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: MAX_EGRESS_PORTS });
const validEntry = fc.oneof(
  fc.tuple(fc.domain(), fc.boolean(), ports).map(([host, wildcard, p]) => `${wildcard ? "*." : ""}${host}:${p.join(",")}`),
  fc.tuple(ipv4Block, ports).map(([block, p]) => `${block}:${p.join(",")}`),
  fc.tuple(fc.ipV6(), ports).map(([address, p]) => `[${address}]/128:${p.join(",")}`),
);

/** Whether an entry is one the AgentDeployment's CRD accepts. */
function fitsCrd(entry: EgressEntry): boolean {
  const { host, cidr, ports: p } = entry;
  const address = cidr?.slice(0, cidr.lastIndexOf("/")) ?? "";
  return (
    (host === undefined) !== (cidr === undefined) &&
    (host === undefined || (host.length <= 253 && /^(\*\.)?[a-z0-9.-]+$/.test(host))) &&
    (cidr === undefined || (cidr.length <= 43 && isIP(address) !== 0)) &&
    p.length >= 1 &&
    p.length <= MAX_EGRESS_PORTS &&
    p.every((port, i) => Number.isInteger(port) && port >= 1 && port <= 65535 && (i === 0 || port > (p[i - 1] as number)))
  );
}

describe("parseEgress properties", () => {
  it("reads every well-formed entry, and its normalized text reads back as the same entry", () => {
    // One entry per destination: entries of one destination merge, and their ports together may
    // pass MAX_EGRESS_PORTS, which is a problem of its own (tested above), not a reading error.
    const destination = (text: string) => {
      const [entry] = parseEgress([text]).entries;
      return entry?.host ?? entry?.cidr;
    };
    fc.assert(
      fc.property(fc.uniqueArray(validEntry, { maxLength: 8, selector: destination }), (texts) => {
        const first = parseEgress(texts);
        expect(first.problems).toEqual([]);
        const again = parseEgress(first.entries.map(formatEgressEntry));
        expect(again).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it("never throws, and what it reads without a problem fits the AgentDeployment's schema", () => {
    const noisy = fc.stringMatching(/^[0-9a-fA-F:./[\]*,%\- x]{0,40}$/);
    fc.assert(
      fc.property(fc.oneof(fc.array(fc.oneof(noisy, validEntry, fc.string())), fc.jsonValue()), (value) => {
        const { entries, problems } = parseEgress(value);
        for (const entry of entries) {
          // Entries of one destination merge, and their ports together may pass the limit: then a
          // problem names that destination (and callers refuse the list or leave the entry out).
          if (entry.ports.length > MAX_EGRESS_PORTS) {
            const target = entry.host ?? entry.cidr;
            expect(problems.some((p) => p.startsWith(`the egress entries of ${target} list`))).toBe(true);
            continue;
          }
          expect(fitsCrd(entry), JSON.stringify(entry)).toBe(true);
        }
        if (problems.length === 0) expect(entries.length).toBeLessThanOrEqual(MAX_EGRESS_ENTRIES);
      }),
      { numRuns: 500 },
    );
  });

  it("writes IPv6 addresses as the WHATWG URL serializer does (RFC 5952, compressed)", () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        const [entry] = parseEgress([`[${address}]/128:443`]).entries;
        expect(`[${entry?.cidr?.replace(/\/128$/, "")}]`).toBe(new URL(`http://[${address}]/`).hostname);
      }),
      { numRuns: 300 },
    );
  });
});

describe("readLanggraphConfig egress", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-langgraph-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function configWith(extra: Record<string, unknown>): Promise<string> {
    const file = path.join(dir, `langgraph-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ graphs: { agent: "./agent.mjs:graph" }, ...extra }));
    return file;
  }

  it("gives the parsed entries, and none when the key is absent", async () => {
    const config = await readLanggraphConfig(await configWith({ egress: ["api.openai.com:443", "203.0.113.0/24:443,8443"] }));
    expect(config.egress).toEqual([
      { host: "api.openai.com", ports: [443] },
      { cidr: "203.0.113.0/24", ports: [443, 8443] },
    ]);
    expect(config.ignored).toEqual([]);
    expect((await readLanggraphConfig(await configWith({}))).egress).toBeUndefined();
  });

  it("refuses a bad egress, naming the file and every bad entry", async () => {
    const file = await configWith({ egress: ["api.openai.com", "203.0.113.0/24:443", "10.0.0.1/8:443"] });
    await expect(readLanggraphConfig(file)).rejects.toThrow(
      `${file}: egress entry "api.openai.com": it names no port: write "host:port" or "cidr:port", such as "api.openai.com:443"; ` +
        'egress entry "10.0.0.1/8:443": 10.0.0.1/8 has bits set past its prefix length: the block is 10.0.0.0/8',
    );
    await expect(readLanggraphConfig(await configWith({ egress: "api.openai.com:443" }))).rejects.toThrow(
      /: "egress" must be a list of strings/,
    );
  });
});
