import { describe, expect, it } from "vitest";
import { describeInput, type InputStorage, inputHistory, MAX_INPUT_CHARS, MAX_INPUTS, rememberInput } from "./input-history";

function memoryStorage(): InputStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
}

describe("the inputs sent to a graph", () => {
  it("are kept newest first, per graph, and one sent again moves to the front", () => {
    const storage = memoryStorage();
    rememberInput(storage, "steps", { n: 1 });
    rememberInput(storage, "steps", { n: 2 });
    rememberInput(storage, "echo", { text: "hi" });
    expect(rememberInput(storage, "steps", { n: 1 })).toEqual([{ n: 1 }, { n: 2 }]);
    expect(inputHistory(storage, "steps")).toEqual([{ n: 1 }, { n: 2 }]);
    expect(inputHistory(storage, "echo")).toEqual([{ text: "hi" }]);
  });

  it("keep at most MAX_INPUTS, and neither no input nor an oversized one", () => {
    const storage = memoryStorage();
    for (let n = 0; n < MAX_INPUTS + 5; n++) rememberInput(storage, "g", { n });
    const history = inputHistory(storage, "g");
    expect(history).toHaveLength(MAX_INPUTS);
    expect(history[0]).toEqual({ n: MAX_INPUTS + 4 });
    expect(rememberInput(storage, "g", null)).toEqual(history);
    expect(rememberInput(storage, "g", { text: "x".repeat(MAX_INPUT_CHARS) })).toEqual(history);
  });

  it("read as nothing when what is stored is not a list, and survive a storage that refuses writes", () => {
    const storage = memoryStorage();
    storage.items.set("langopen.portal.inputs.g", "{not json");
    expect(inputHistory(storage, "g")).toEqual([]);
    storage.items.set("langopen.portal.inputs.g", '{"a":1}');
    expect(inputHistory(storage, "g")).toEqual([]);
    const full: InputStorage = {
      getItem: () => '[{"n":1}]',
      setItem: () => {
        throw new DOMException("quota", "QuotaExceededError");
      },
    };
    expect(rememberInput(full, "g", { n: 2 })).toEqual([{ n: 1 }]);
  });

  it("are named by their first fields, cut to a line", () => {
    expect(describeInput({ topic: "cats", n: 3 })).toBe('topic: "cats", n: 3');
    expect(describeInput("plain")).toBe('"plain"');
    expect(describeInput({ text: "y".repeat(100) }, 20)).toHaveLength(20);
  });
});
