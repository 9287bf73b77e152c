import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { BlockList } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOperatorSettings } from "./compose.js";
import { allowedCidrProblems, type Block, contains, DENIED_CIDRS, describeRefusals, parseBlock, planEgress } from "./egress.js";

const block = (text: string): Block => {
  const parsed = parseBlock(text);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed;
};

/** A deterministic stream of numbers (the same cases every run). */
function* numbers(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    yield x;
  }
}

describe("address blocks", () => {
  it("parses IPv4 and IPv6 blocks to their network, and refuses what is not one", () => {
    expect(block("10.20.0.0/16")).toEqual({ family: 4, network: 0x0a140000n, prefix: 16, text: "10.20.0.0/16" });
    expect(block("2001:db8::/32")).toEqual({ family: 6, network: 0x20010db8n << 96n, prefix: 32, text: "2001:db8::/32" });
    expect(block("::/0")).toMatchObject({ family: 6, network: 0n, prefix: 0 });
    // A resource written by hand may set bits past the prefix: judged by its network (as the API server does).
    expect(block("10.1.2.3/8")).toMatchObject({ network: 0x0a000000n, prefix: 8, text: "10.1.2.3/8" });
    expect(parseBlock("10.1.2.3/8", { exact: true })).toEqual({
      problem: '"10.1.2.3/8" has bits set past its prefix length (write its network address)',
    });
    for (const bad of [
      "10.0.0.0",
      "10.0.0.0/33",
      "10.0.0.0/-1",
      "10.0.0.0/08",
      "010.0.0.0/8",
      "10.0.0/8",
      "fe80::1%eth0/128",
      "::/129",
      "host/32",
      "/8",
      "",
    ])
      expect(parseBlock(bad), bad).toHaveProperty("problem");
  });

  it("reads an IPv4-mapped IPv6 block as its IPv4 block", () => {
    expect(block("::ffff:10.0.0.0/104")).toEqual({ family: 4, network: 0x0a000000n, prefix: 8, text: "10.0.0.0/8" });
    expect(block("::ffff:a9fe:a9fe/128")).toMatchObject({ family: 4, text: "169.254.169.254/32" });
    expect(block("::FFFF:198.51.100.7/128")).toMatchObject({ family: 4, text: "198.51.100.7/32" });
    // Shorter than /96 it holds more than mapped addresses: an IPv6 block.
    expect(block("::fffe:0:0/95")).toMatchObject({ family: 6, prefix: 95 });
  });

  it("says whether one block lies inside another as node:net's BlockList does", () => {
    const samples = [
      ...DENIED_CIDRS.filter((c) => c !== "::ffff:0:0/96"),
      "0.0.0.0/0",
      "8.0.0.0/5",
      "10.20.0.0/16",
      "10.20.0.5/32",
      "11.0.0.0/8",
      "169.254.169.254/32",
      "172.31.255.255/32",
      "172.32.0.0/11",
      "203.0.113.0/24",
      "255.255.255.255/32",
      "::/0",
      "::/96",
      "2001:db8::/32",
      "2001:db8:0:1::/64",
      "fd00::/8",
      "fe80::1/128",
      "febf:ffff::/32",
      "fec0::/10",
    ];
    for (const outer of samples) {
      const o = block(outer);
      const list = new BlockList();
      const [address = "", prefix = ""] = outer.split("/");
      list.addSubnet(address, Number(prefix), o.family === 4 ? "ipv4" : "ipv6");
      for (const inner of samples) {
        const i = block(inner);
        const expected =
          o.family === i.family &&
          o.prefix <= i.prefix &&
          list.check(inner.split("/")[0] ?? "", o.family === 4 ? "ipv4" : "ipv6");
        expect(contains(o, i), `${inner} inside ${outer}`).toBe(expected);
      }
    }
  });
});

describe("planEgress", () => {
  /** Whether a plan's peers let this address through (ipBlock semantics), by BlockList. */
  const opens = (peers: ReturnType<typeof planEgress>[number]["peers"], address: string, family: "ipv4" | "ipv6") =>
    peers.some(({ ipBlock }) => {
      const inList = (cidr: string) => {
        const list = new BlockList();
        const [a = "", p = ""] = cidr.split("/");
        if (a.includes(":") !== (family === "ipv6")) return false;
        list.addSubnet(a, Number(p), family);
        return list.check(address, family);
      };
      return inList(ipBlock.cidr) && !(ipBlock.except ?? []).some(inList);
    });
  // One list per family: a BlockList matches IPv4 addresses against an IPv4-mapped rule (::ffff:0:0/96 holds them all).
  const denied = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const cidr of DENIED_CIDRS) {
    const [a = "", p = ""] = cidr.split("/");
    const family = a.includes(":") ? "ipv6" : "ipv4";
    denied[family].addSubnet(a, Number(p), family);
  }

  it("opens 0.0.0.0/0 to exactly the addresses outside the special-purpose blocks (2,000 addresses and the edges)", () => {
    const [plan] = planEgress([{ cidr: "0.0.0.0/0", ports: [443] }], {});
    const random = numbers(7);
    const addresses = [
      "0.0.0.0",
      "0.255.255.255",
      "1.0.0.0",
      "9.255.255.255",
      "10.0.0.0",
      "10.255.255.255",
      "11.0.0.0",
      "100.63.255.255",
      "100.64.0.0",
      "100.127.255.255",
      "100.128.0.0",
      "169.254.169.254",
      "172.15.255.255",
      "172.16.0.0",
      "172.31.255.255",
      "172.32.0.0",
      "192.0.0.255",
      "192.0.1.0",
      "192.168.0.1",
      "198.17.255.255",
      "198.18.0.0",
      "198.19.255.255",
      "198.20.0.0",
      "223.255.255.255",
      "224.0.0.0",
      "255.255.255.255",
      ...Array.from({ length: 2_000 }, () => {
        const n = (random.next().value as number) ^ ((random.next().value as number) << 1);
        return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
      }),
    ];
    for (const address of addresses)
      expect(opens(plan?.peers ?? [], address, "ipv4"), address).toBe(!denied.ipv4.check(address, "ipv4"));
  });

  it("opens ::/0 to exactly the IPv6 addresses outside them", () => {
    const [plan] = planEgress([{ cidr: "::/0", ports: [443] }], {});
    for (const address of [
      "::",
      "::1",
      "::2",
      "::ffff:8.8.8.8",
      "64:ff9b::8.8.8.8",
      "64:ff9b:1::1",
      "fbff::1",
      "fc00::1",
      "fdff::1",
      "fe00::1",
      "fe80::1",
      "febf::1",
      "fec0::1",
      "ff02::1",
      "2001:db8::1",
      "2606:4700::1111",
    ])
      expect(opens(plan?.peers ?? [], address, "ipv6"), address).toBe(!denied.ipv6.check(address, "ipv6"));
  });

  it("names what it kept closed, per entry, for the status", () => {
    const plan = planEgress(
      [
        { cidr: "169.254.169.254/32", ports: [80] },
        { cidr: "0.0.0.0/0", ports: [443] },
        { cidr: "10.0.0.0/8", ports: [8443] },
        { cidr: "not-a-block", ports: [1] },
        { host: "internal.example.com", ports: [443] },
        { host: "api.openai.com", ports: [443] },
        { host: "*.anthropic.com", ports: [443] },
        { cidr: "fe80::/10", ports: [22] },
      ],
      { "internal.example.com": ["10.1.2.3", "198.51.100.7"], "api.openai.com": ["198.51.100.8"] },
      ["10.20.0.5/32"],
    );
    expect(plan.map((p) => [p.entry, p.refused, p.note])).toEqual([
      ["169.254.169.254/32:80", ["169.254.169.254/32"], "not opened"],
      [
        "0.0.0.0/0:443",
        DENIED_CIDRS.filter((c) => !c.includes(":")),
        `opened without ${DENIED_CIDRS.filter((c) => !c.includes(":")).join(", ")}`,
      ],
      ["10.0.0.0/8:8443", ["10.0.0.0/8"], "only 10.20.0.5/32 opened"],
      ["not-a-block:1", ["not-a-block"], "not an address block"],
      ["internal.example.com:443", ["10.1.2.3"], "resolved to 10.1.2.3, not opened"],
      ["api.openai.com:443", [], undefined],
      ["*.anthropic.com:443", [], undefined],
      ["[fe80::]/10:22", ["fe80::/10"], "not opened"],
    ]);
    expect(describeRefusals(plan)).toMatch(
      /^graph code may not reach private or special-purpose addresses this installation does not allow \(the operator's egressAllowedCidrs\): 169\.254\.169\.254\/32:80 \(not opened\); 0\.0\.0\.0\/0:443 \(opened without 0\.0\.0\.0\/8, 10\.0\.0\.0\/8, .*\); 10\.0\.0\.0\/8:8443 \(only 10\.20\.0\.5\/32 opened\); not-a-block:1 \(not an address block\); internal\.example\.com:443 \(resolved to 10\.1\.2\.3, not opened\); \[fe80::\]\/10:22 \(not opened\)$/,
    );
    expect(describeRefusals(planEgress([{ host: "api.openai.com", ports: [443] }], { "api.openai.com": ["198.51.100.8"] }))).toBe(
      undefined,
    );
  });
});

describe("the installation's egressAllowedCidrs", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-operator-settings-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const settingsFile = async (extra: Record<string, unknown>) => {
    const file = path.join(dir, `settings-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(
      file,
      JSON.stringify({
        image: "ghcr.io/langopen/langopen:0.1.0",
        controlPlaneUrl: "http://langopen-control-plane.langopen.svc:8130",
        controlPlane: { to: [{ podSelector: {} }], ports: [{ port: 8130 }] },
        dependencies: [],
        publicKeyConfigMap: "langopen-signing-key",
        credentialsSecret: "{name}-credentials",
        prometheusUrl: "http://prometheus.monitoring.svc:9090",
        urlTemplate: "http://{name}-gateway.{namespace}.svc:8123",
        ...extra,
      }),
    );
    return file;
  };

  it("are none by default, and load when each is a block", async () => {
    expect((await loadOperatorSettings(await settingsFile({}))).egressAllowedCidrs).toEqual([]);
    const allowed = ["10.20.0.5/32", "169.254.0.0/16", "fd12:3456::/32"];
    expect((await loadOperatorSettings(await settingsFile({ egressAllowedCidrs: allowed }))).egressAllowedCidrs).toEqual(allowed);
  });

  it("refuse to start on one that is not a block, naming it", async () => {
    const file = await settingsFile({ egressAllowedCidrs: ["10.20.0.5/32", "10.20.0.5", "10.20.0.5/24", "fe80::1%eth0/128"] });
    const refusal = loadOperatorSettings(file);
    await expect(refusal).rejects.toThrow(`${file} is not valid operator settings`);
    await expect(refusal).rejects.toThrow(
      [
        '/egressAllowedCidrs/1: "10.20.0.5" is not an address block such as 10.20.0.0/16',
        '/egressAllowedCidrs/2: "10.20.0.5/24" has bits set past its prefix length (write its network address)',
        '/egressAllowedCidrs/3: "fe80::1%eth0/128" is not an address block such as 10.20.0.0/16',
      ].join("; "),
    );
    await expect(loadOperatorSettings(await settingsFile({ egressAllowedCidrs: "10.0.0.0/8" }))).rejects.toThrow(
      /egressAllowedCidrs/,
    );
    expect(allowedCidrProblems(["10.0.0.0/8", "::/0"])).toEqual([]);
  });
});
