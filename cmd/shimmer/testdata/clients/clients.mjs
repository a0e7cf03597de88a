// Structured output and tool calls through unmodified official clients
// against a running `shimmer serve` (its base URL is argv[2]): the openai
// npm client with response_format json_schema and with tools, LangChain's
// withStructuredOutput and the AI SDK's generateObject. Every object is
// validated with ajv against its schema. Prints one line per check and
// exits 1 if any failed.
import OpenAI from "openai";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ChatOpenAI } from "@langchain/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject } from "ai";
import { z } from "zod";

const base = process.argv[2];
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "unused", maxRetries: 0 });
const ajv = new Ajv2020({ strict: false });
addFormats(ajv);
let failed = 0, passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}

const schemas = {
  nested: { type: "object", properties: { user: { type: "object", properties: { name: { type: "string", maxLength: 16 }, age: { type: "integer", minimum: 0, maximum: 120 } }, required: ["name", "age"], additionalProperties: false } }, required: ["user"], additionalProperties: false },
  array: { type: "array", items: { type: "string", maxLength: 8 }, minItems: 1, maxItems: 3 },
  enum: { type: "object", properties: { color: { enum: ["red", "green", "blue"] }, size: { enum: [1, 2, 3] } }, required: ["color", "size"], additionalProperties: false },
  ref: { $defs: { point: { type: "object", properties: { x: { type: "integer" }, y: { type: "integer" } }, required: ["x", "y"], additionalProperties: false } }, type: "object", properties: { a: { $ref: "#/$defs/point" }, b: { $ref: "#/$defs/point" } }, required: ["a", "b"], additionalProperties: false },
  pattern: { type: "object", properties: { code: { type: "string", pattern: "^[A-Z]{3}-[0-9]{2}$" } }, required: ["code"], additionalProperties: false },
  bounds: { type: "object", properties: { p: { type: "number", minimum: 0, maximum: 1 }, n: { type: "integer", exclusiveMinimum: -5, exclusiveMaximum: 5 } }, required: ["p", "n"], additionalProperties: false },
  optional: { type: "object", properties: { a: { type: "boolean" }, b: { type: "null" }, c: { type: "string", maxLength: 5 } }, required: ["a"], additionalProperties: false },
  anyOf: { type: "object", properties: { v: { anyOf: [{ type: "integer", minimum: 0, maximum: 9 }, { type: "string", maxLength: 4 }] } }, required: ["v"], additionalProperties: false },
  tuple: { type: "array", prefixItems: [{ type: "string", maxLength: 4 }, { type: "integer", minimum: 1, maximum: 3 }, { type: "boolean" }], items: false },
  format: { type: "object", properties: { day: { type: "string", format: "date" }, id: { type: "string", format: "uuid" } }, required: ["day", "id"], additionalProperties: false },
  deep: { type: "object", properties: { l1: { type: "object", properties: { l2: { type: "object", properties: { l3: { type: "array", items: { type: "integer", minimum: 0, maximum: 9 }, maxItems: 2 } }, required: ["l3"], additionalProperties: false } }, required: ["l2"], additionalProperties: false } }, required: ["l1"], additionalProperties: false },
  strings: { type: "object", properties: { s: { type: "string", minLength: 2, maxLength: 6 } }, required: ["s"], additionalProperties: false },
};

// Schemas nobody wrote by hand: random nestings from a seeded generator.
function rng(seed) { let s = seed >>> 0; return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32); }
function randomSchema(r, depth) {
  const k = Math.floor(r() * (depth > 2 ? 5 : 7));
  switch (k) {
    case 0: return { type: "integer", minimum: Math.floor(r() * 10) - 5, maximum: 5 + Math.floor(r() * 100) };
    case 1: return { type: "string", maxLength: 1 + Math.floor(r() * 8) };
    case 2: return { type: "boolean" };
    case 3: return { enum: ["x", "y", 7, null].slice(0, 2 + Math.floor(r() * 3)) };
    case 4: return { type: "null" };
    case 5: return { type: "array", items: randomSchema(r, depth + 1), maxItems: 1 + Math.floor(r() * 3) };
    default: {
      const props = {}, req = [];
      const n = 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) { props["k" + i] = randomSchema(r, depth + 1); if (r() < 0.7) req.push("k" + i); }
      return { type: "object", properties: props, required: req, additionalProperties: false };
    }
  }
}
for (let i = 0; i < 8; i++) schemas["random" + i] = randomSchema(rng(1000 + i), 0);

async function structured(name, schema, seed) {
  const resp = await client.chat.completions.create({
    model: "stories260K", messages: [{ role: "user", content: "Tell me a story." }], max_tokens: 400, seed,
    response_format: { type: "json_schema", json_schema: { name, schema, strict: true } },
  });
  const text = resp.choices[0].message.content;
  let value, err = "";
  try { value = JSON.parse(text); } catch (e) { err = e.message; }
  const valid = err === "" && ajv.validate(schema, value);
  check(`response_format json_schema ${name}`, valid && resp.choices[0].finish_reason === "stop",
    `${resp.choices[0].finish_reason} ${JSON.stringify(text)} ${err} ${JSON.stringify(ajv.errors)}`);
}

for (const [name, schema] of Object.entries(schemas)) await structured(name, schema, 7);

// Tools: required calls whose arguments fit the parameters.
const tools = [
  { type: "function", function: { name: "get_weather", description: "Weather in a city", parameters: schemas.nested.properties.user && { type: "object", properties: { city: { type: "string", maxLength: 20 }, unit: { enum: ["celsius", "fahrenheit"] } }, required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "move", parameters: schemas.ref } },
  { type: "function", function: { name: "tag", parameters: schemas.random3.type === "object" ? schemas.random3 : schemas.enum } },
];
const params = Object.fromEntries(tools.map((t) => [t.function.name, t.function.parameters]));
for (let seed = 1; seed <= 4; seed++) {
  const req = { model: "stories260K", messages: [{ role: "user", content: "Do something." }], tools, tool_choice: "required", max_tokens: 400, seed };
  const resp = await client.chat.completions.create(req);
  const calls = resp.choices[0].message.tool_calls || [];
  const ok = resp.choices[0].finish_reason === "tool_calls" && calls.length > 0 &&
    calls.every((c) => c.type === "function" && params[c.function.name] && ajv.validate(params[c.function.name], JSON.parse(c.function.arguments)));
  check(`tools required seed ${seed}`, ok, JSON.stringify(resp.choices[0]));
  // The same request streamed reassembles to the same calls.
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const acc = [];
  let finish = null;
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    if (ch.finish_reason) finish = ch.finish_reason;
    for (const d of ch.delta?.tool_calls || []) {
      acc[d.index] ??= { name: "", arguments: "" };
      if (d.function?.name) acc[d.index].name += d.function.name;
      if (d.function?.arguments) acc[d.index].arguments += d.function.arguments;
    }
  }
  const same = finish === "tool_calls" && acc.length === calls.length &&
    acc.every((a, i) => a.name === calls[i].function.name && JSON.stringify(JSON.parse(a.arguments)) === JSON.stringify(JSON.parse(calls[i].function.arguments)));
  check(`tools required seed ${seed} streamed`, same, JSON.stringify({ finish, acc, calls: calls.map((c) => c.function) }));
}

// LangChain withStructuredOutput.
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(0).max(99) });
for (const method of ["jsonSchema", "functionCalling"]) {
  try {
    const llm = new ChatOpenAI({ model: "stories260K", apiKey: "unused", configuration: { baseURL: base + "/v1" }, maxTokens: 300, maxRetries: 0 });
    const out = await llm.withStructuredOutput(Person, { method }).invoke("Tell me about a person.");
    check(`LangChain withStructuredOutput (${method})`, Person.safeParse(out).success, JSON.stringify(out));
  } catch (e) { check(`LangChain withStructuredOutput (${method})`, false, e.message); }
}

// AI SDK generateObject.
try {
  const provider = createOpenAICompatible({ name: "shimmer", baseURL: base + "/v1", apiKey: "unused", supportsStructuredOutputs: true });
  const { object } = await generateObject({ model: provider("stories260K"), schema: Person, prompt: "Tell me about a person.", maxOutputTokens: 300, maxRetries: 0 });
  check("AI SDK generateObject", Person.safeParse(object).success, JSON.stringify(object));
} catch (e) { check("AI SDK generateObject", false, e.message); }

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
