// compare.mjs prints the lines where two id files differ, with the input
// string and both tokenizations as token texts.
//   node compare.mjs strings.jsonl oracle.jsonl shimmer.jsonl DUMP.json [max]
import fs from "node:fs";
const [sp, ap, bp, dp, maxArg] = process.argv.slice(2);
const lines = (p) => fs.readFileSync(p, "utf8").split("\n").filter((l) => l.length);
const S = lines(sp), A = lines(ap), B = lines(bp);
const dump = JSON.parse(fs.readFileSync(dp, "utf8"));
const max = +(maxArg ?? 20);
const show = (ids) => ids.map((i) => `${i}:${JSON.stringify(dump.tokens[i] ?? "?")}`).join(" ");
let n = 0;
for (let i = 0; i < S.length; i++) {
  const a = JSON.parse(A[i] ?? "null"), b = JSON.parse(B[i] ?? "null");
  if (JSON.stringify(a) === JSON.stringify(b)) continue;
  n++;
  if (n <= max) {
    console.log(`#${i} ${S[i]}`);
    console.log(`  oracle : ${Array.isArray(a) ? show(a) : a}`);
    console.log(`  shimmer: ${Array.isArray(b) ? show(b) : b}`);
  }
}
console.log(`${n} of ${S.length} differ`);
