// The graph floor of this machine: the benchmark's echo graph run in-process by LangGraph.js, as fast as one
// process can, with an in-memory checkpointer (what a server must do at least for each run, before any API,
// queue or durable storage). Prints one JSON line: runs/s and CPU ms per run, for `durationS` (argv[2]).
import { MemorySaver } from "@langchain/langgraph";
import { graph } from "./graphs/echo.mjs";

const durationS = Number(process.argv[2] ?? 3);
const concurrency = 10;
const saved = graph.withConfig({});
saved.checkpointer = new MemorySaver();

async function measure(g, stateful, seconds) {
  let runs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_x, lane) => {
      for (let i = 0; Date.now() < end && i < 1_000_000; i++) {
        const config = stateful ? { configurable: { thread_id: `t-${lane}-${i}` } } : {};
        await g.invoke({ text: "hello" }, config);
        runs++;
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { runs_per_s: runs / wallS, cpu_ms_per_run: (cpu.user + cpu.system) / 1000 / runs };
}

await measure(saved, true, 1);
const withCheckpointer = await measure(saved, true, durationS);
const without = await measure(graph, false, durationS);
process.stdout.write(`${JSON.stringify({ withCheckpointer, without })}\n`);
