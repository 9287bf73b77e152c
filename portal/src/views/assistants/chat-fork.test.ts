import { describe, expect, it } from "vitest";
import { type Checkpoint, toCheckpoint } from "../threads/checkpoints";
import { editForkIds, findForkCheckpoint, regenerateTarget, searchBranch } from "./chat-fork";
import type { ChatMessage } from "./chat-messages";

const ref = (id: string) => ({ thread_id: "t", checkpoint_ns: "", checkpoint_id: id, checkpoint_map: null });

const MESSAGES: Record<string, { type: string; content: string }> = {
  h1: { type: "human", content: "first" },
  a1: { type: "ai", content: "answer" },
  h2: { type: "human", content: "second" },
  a2: { type: "ai", content: "answer" },
  e1: { type: "human", content: "first, edited" },
  b1: { type: "ai", content: "answer" },
};

/** A checkpoint of a messages graph holding the messages `ids` (none: values without messages). */
function checkpoint(id: string, parent: string | undefined, ids: string[] | undefined): Checkpoint {
  const values = ids === undefined ? {} : { messages: ids.map((message) => ({ id: message, ...MESSAGES[message] })) };
  const made = toCheckpoint({
    values,
    next: [],
    tasks: [],
    checkpoint: ref(id),
    metadata: {},
    parent_checkpoint: parent ? ref(parent) : null,
  });
  if (made === undefined) throw new Error(`no checkpoint ${id}`);
  return made;
}

// Two exchanges (two runs: each an input checkpoint, the human message, the answer), newest first.
const TWO_EXCHANGES = [
  checkpoint("c5", "c4", ["h1", "a1", "h2", "a2"]),
  checkpoint("c4", "c3", ["h1", "a1", "h2"]),
  checkpoint("c3", "c2", ["h1", "a1"]),
  checkpoint("c2", "c1", ["h1", "a1"]),
  checkpoint("c1", "c0", ["h1"]),
  checkpoint("c0", undefined, undefined),
];
// Then the first message edited: a branch from the first checkpoint, the old one kept.
const EDITED = [
  checkpoint("c8", "c7", ["e1", "b1"]),
  checkpoint("c7", "c6", ["e1"]),
  checkpoint("c6", "c0", []),
  ...TWO_EXCHANGES,
];

const idOf = (found: ReturnType<typeof searchBranch> | undefined) => (typeof found === "object" ? found.checkpointId : found);

describe("searchBranch", () => {
  it("finds the newest checkpoint holding exactly the messages before the fork", () => {
    expect(idOf(searchBranch(TWO_EXCHANGES, ["h1", "a1"]))).toBe("c3");
    expect(idOf(searchBranch(TWO_EXCHANGES, ["h1", "a1", "h2"]))).toBe("c4");
    expect(idOf(searchBranch(TWO_EXCHANGES, ["h1"]))).toBe("c1");
  });

  it("forks before the first message from the checkpoint with no messages yet", () => {
    expect(idOf(searchBranch(TWO_EXCHANGES, []))).toBe("c0");
    expect(idOf(searchBranch(EDITED, []))).toBe("c6");
  });

  it("compares ids in order, not a prefix or a subset", () => {
    expect(searchBranch(TWO_EXCHANGES, ["a1", "h1"])).toBe("absent");
    expect(searchBranch(TWO_EXCHANGES, ["h1", "a1", "h2", "a2", "h3"])).toBe("absent");
  });

  it("keeps to the current branch: the old branch's checkpoints are not forked from", () => {
    expect(idOf(searchBranch(EDITED, ["e1"]))).toBe("c7");
    expect(searchBranch(EDITED, ["h1", "a1"])).toBe("absent");
    expect(searchBranch(EDITED, ["h1"])).toBe("absent");
  });

  it("says when the branch goes on past the history loaded", () => {
    expect(searchBranch(EDITED.slice(0, 2), [])).toBe("older");
    expect(idOf(searchBranch(EDITED.slice(0, 2), ["e1"]))).toBe("c7");
    expect(searchBranch([], [])).toBe("absent");
  });
});

describe("findForkCheckpoint", () => {
  /** Reads `history` in pages of `size`, noting each page asked for. */
  function pages(history: Checkpoint[], size: number) {
    const asked: Array<string | undefined> = [];
    const read = async (before: string | undefined) => {
      asked.push(before);
      const from = before === undefined ? 0 : history.findIndex((known) => known.checkpointId === before) + 1;
      return history.slice(from, from + size);
    };
    return { asked, read };
  }

  it("reads older pages only while the branch needs them", async () => {
    const near = pages(EDITED, 3);
    expect((await findForkCheckpoint(["e1"], near.read))?.checkpointId).toBe("c7");
    expect(near.asked).toEqual([undefined]);

    const far = pages(EDITED, 3);
    expect((await findForkCheckpoint([], far.read))?.checkpointId).toBe("c6");
    expect(far.asked).toEqual([undefined]);

    const first = pages(TWO_EXCHANGES, 2);
    expect((await findForkCheckpoint([], first.read))?.checkpointId).toBe("c0");
    expect(first.asked).toEqual([undefined, "c4", "c2"]);
  });

  it("finds nothing when the branch holds no such checkpoint, or the thread has no history", async () => {
    const old = pages(EDITED, 4);
    expect(await findForkCheckpoint(["h1", "a1"], old.read)).toBeUndefined();
    expect(await findForkCheckpoint([], pages([], 4).read)).toBeUndefined();
  });
});

const message = (id: string, role: ChatMessage["role"]): ChatMessage => ({ id, role, text: id, toolCalls: [] });

describe("what editing and regenerating fork after", () => {
  const transcript = [message("h1", "human"), message("a1", "ai"), message("h2", "human"), message("a2", "ai")];

  it("edits after the messages before the one edited", () => {
    expect(editForkIds(transcript, 0)).toEqual([]);
    expect(editForkIds(transcript, 2)).toEqual(["h1", "a1"]);
  });

  it("regenerates the last answer from the human message that prompted it", () => {
    expect(regenerateTarget(transcript)).toEqual({ answerId: "a2", forkIds: ["h1", "a1", "h2"] });
    // A turn with tools runs again whole; a message sent after the answer does not move it.
    const withTools = [message("h1", "human"), message("c1", "ai"), message("t1", "tool"), message("a1", "ai")];
    expect(regenerateTarget(withTools)).toEqual({ answerId: "a1", forkIds: ["h1"] });
    expect(regenerateTarget([...transcript.slice(0, 2), message("h2", "human")])).toEqual({
      answerId: "a1",
      forkIds: ["h1"],
    });
  });

  it("has nothing to regenerate without an answer to a human message", () => {
    expect(regenerateTarget([])).toBeUndefined();
    expect(regenerateTarget([message("h1", "human")])).toBeUndefined();
    expect(regenerateTarget([message("s1", "system"), message("a1", "ai")])).toBeUndefined();
  });
});
