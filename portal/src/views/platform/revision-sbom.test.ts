import { describe, expect, it } from "vitest";
import { sbomComponents } from "./revision-sbom";

describe("sbomComponents", () => {
  it("reads a CycloneDX document's components: scoped names, versions, licences by id, name or expression", () => {
    const components = sbomComponents({
      bomFormat: "CycloneDX",
      components: [
        {
          group: "@langchain",
          name: "langgraph",
          version: "1.0.0",
          purl: "pkg:npm/%40langchain/langgraph@1.0.0",
          licenses: [{ license: { id: "MIT" } }],
        },
        { name: "zod", version: "3.25.0", licenses: [{ expression: "MIT OR Apache-2.0" }] },
        { name: "abc", version: "0.1.0", licenses: [{ license: { name: "Custom" } }, { license: {} }] },
        { name: "bare" },
      ],
    });
    expect(components.map((c) => [c.name, c.version, c.licenses])).toEqual([
      ["@langchain/langgraph", "1.0.0", "MIT"],
      ["abc", "0.1.0", "Custom"],
      ["bare", "", ""],
      ["zod", "3.25.0", "MIT OR Apache-2.0"],
    ]);
  });

  it("answers nothing for what is not a CycloneDX document", () => {
    expect(sbomComponents(null)).toEqual([]);
    expect(sbomComponents({ components: "x" })).toEqual([]);
  });
});
