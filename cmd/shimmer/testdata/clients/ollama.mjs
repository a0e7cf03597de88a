// ollama's own JavaScript client (ollama-js, unmodified) and the openai npm
// client against one `shimmer serve --models-dir` serving two models:
// argv[2] is the base URL, argv[3] a JSON file of the stories260K
// text-once reference (llama.cpp's greedy text). ollama-js: list, show,
// ps, generate and chat, streamed and not, with the greedy text where the
// prompt is raw; openai: both models listed, each answering as itself,
// an unknown one refused with 404 model_not_found.
// Prints one line per check and exits 1 if any failed.
import { Ollama } from "ollama";
import OpenAI from "openai";
import { readFileSync } from "node:fs";

let failed = 0, passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}
async function attempt(name, f) {
  try { await f(); } catch (e) { check(name, false, e.stack || String(e)); }
}

const base = process.argv[2];
const ref = JSON.parse(readFileSync(process.argv[3], "utf8"));
const ollama = new Ollama({ host: base });
const greedy = { temperature: 0, num_predict: ref.n_gen, repeat_penalty: 1 };

await attempt("list", async () => {
  const r = await ollama.list();
  const names = r.models.map((m) => m.name).sort();
  check("list: both models", JSON.stringify(names) === JSON.stringify(["stories260K", "tiny-llama"]), JSON.stringify(names));
  const s = r.models.find((m) => m.name === "stories260K");
  check("list: details", s.details.family === "llama" && s.details.format === "gguf" && s.size > 1000000 && !isNaN(Date.parse(s.modified_at)), JSON.stringify(s));
});
await attempt("show", async () => {
  const r = await ollama.show({ model: "tiny-llama" });
  check("show: model_info and capabilities", r.model_info["general.architecture"] === "llama" && r.capabilities.includes("completion") && r.details.family === "llama", JSON.stringify(r).slice(0, 300));
});
await attempt("generate", async () => {
  const r = await ollama.generate({ model: "stories260K", prompt: ref.prompt_text, raw: true, stream: false, options: greedy });
  check("generate: llama.cpp's greedy text", r.response === ref.greedy_text && r.done && r.eval_count === ref.n_gen, JSON.stringify(r.response));
  let text = "", last;
  for await (const part of await ollama.generate({ model: "stories260K", prompt: ref.prompt_text, raw: true, stream: true, options: greedy })) {
    text += part.response; last = part;
  }
  check("generate streamed: the same text, done last", text === ref.greedy_text && last.done && last.done_reason === "length", JSON.stringify(text));
});
await attempt("chat", async () => {
  const messages = [{ role: "user", content: "Tell me a story about a dog." }];
  const options = { temperature: 0, num_predict: 24 };
  const r = await ollama.chat({ model: "stories260K", messages, stream: false, options });
  check("chat: an assistant message", r.message.role === "assistant" && r.message.content.length > 0 && r.done, JSON.stringify(r.message));
  let text = "", n = 0, last;
  for await (const part of await ollama.chat({ model: "stories260K", messages, stream: true, options })) {
    text += part.message.content; n++; last = part;
  }
  check("chat streamed: the same reply in parts", text === r.message.content && n >= 2 && last.done && last.message.content === "", `${n} parts: ${JSON.stringify(text)} vs ${JSON.stringify(r.message.content)}`);
});
await attempt("ps", async () => {
  const r = await ollama.ps();
  check("ps: the loaded model", r.models.some((m) => m.name === "stories260K" && !isNaN(Date.parse(m.expires_at))), JSON.stringify(r));
});
await attempt("ollama errors", async () => {
  try {
    await ollama.generate({ model: "nosuch", prompt: "x", stream: false });
    check("generate an unknown model", false, "no error");
  } catch (e) {
    check("generate an unknown model: ResponseError 404", e.status_code === 404 && /not found/.test(e.error), `${e.status_code} ${e.error}`);
  }
});

const openai = new OpenAI({ baseURL: base + "/v1", apiKey: "unused", maxRetries: 0 });
await attempt("openai", async () => {
  const models = [];
  for await (const m of openai.models.list()) models.push(m.id);
  check("openai: two models listed", JSON.stringify(models.sort()) === JSON.stringify(["stories260K", "tiny-llama"]), JSON.stringify(models));
  const a = await openai.completions.create({ model: "stories260K", prompt: ref.prompt_text, max_tokens: ref.n_gen, temperature: 0 });
  check("openai: stories260K answers with its greedy text", a.model === "stories260K" && a.choices[0].text === ref.greedy_text, JSON.stringify(a.choices[0].text));
  const b = await openai.completions.create({ model: "tiny-llama", prompt: ref.prompt_text, max_tokens: 8, temperature: 0 });
  check("openai: tiny-llama answers as itself", b.model === "tiny-llama" && b.choices[0].text !== a.choices[0].text.slice(0, b.choices[0].text.length), JSON.stringify(b.choices[0].text));
  try {
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    check("openai: unknown model", false, "no error");
  } catch (e) {
    check("openai: unknown model is NotFoundError model_not_found", e instanceof OpenAI.NotFoundError && e.code === "model_not_found", `${e.status} ${e.code}`);
  }
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
