// Embeddings through unmodified official clients against running
// `shimmer serve` instances: argv[2] is embed/texts.txt of the reference
// data, argv[3..] are NAME=URL=REFS, a served model, its base URL and
// llama.cpp's pooled outputs for those texts (JSON lines of
// {"embedding": [...]}, in the same order). The
// openai npm client (its default base64 encoding and float) and
// LangChain's OpenAIEmbeddings (embedDocuments, embedQuery) must return
// unit vectors whose cosine with llama.cpp's is at least 0.99999.
// Prints one line per check and exits 1 if any failed.
import OpenAI from "openai";
import { OpenAIEmbeddings } from "@langchain/openai";
import { readFileSync } from "node:fs";

let failed = 0, passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}
function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}
function norm(a) { return Math.sqrt(a.reduce((s, x) => s + x * x, 0)); }
function same(name, got, want) {
  const worst = Math.min(...want.map((w, i) => (got[i] ? cosine(got[i], w) : 0)));
  const unit = got.every((v) => Math.abs(norm(v) - 1) < 1e-5);
  check(name, got.length === want.length && worst >= 0.99999 && unit,
    `${got.length} vectors for ${want.length}, worst cosine ${worst}, unit ${unit}`);
}

const texts = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l !== "");
for (const arg of process.argv.slice(3)) {
  const [name, base, refs] = arg.split("=");
  const want = readFileSync(refs, "utf8").trim().split("\n").map((l) => JSON.parse(l).embedding);
  const client = new OpenAI({ baseURL: base + "/v1", apiKey: "unused", maxRetries: 0 });
  try {
    const r = await client.embeddings.create({ model: name, input: texts });
    same(`${name}: openai embeddings.create (base64)`, r.data.map((d) => d.embedding), want);
    check(`${name}: openai usage and model`, r.usage.prompt_tokens > texts.length && r.model === name, JSON.stringify(r.usage) + " " + r.model);
    const f = await client.embeddings.create({ model: name, input: texts[2], encoding_format: "float" });
    same(`${name}: openai embeddings.create (float)`, [f.data[0].embedding], [want[2]]);
  } catch (e) { check(`${name}: openai embeddings.create`, false, e.message); }
  try {
    const lc = new OpenAIEmbeddings({ model: name, apiKey: "unused", configuration: { baseURL: base + "/v1" }, maxRetries: 0, batchSize: 3 });
    same(`${name}: LangChain OpenAIEmbeddings.embedDocuments`, await lc.embedDocuments(texts), want);
    same(`${name}: LangChain OpenAIEmbeddings.embedQuery`, [await lc.embedQuery(texts[0])], [want[0]]);
  } catch (e) { check(`${name}: LangChain OpenAIEmbeddings`, false, e.message); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
