// gen.mjs writes hard test strings, one JSON string per line, to stdout.
// Deterministic: the same seed gives the same strings.
//   node gen.mjs [count] [seed] > strings.jsonl
const count = +(process.argv[2] ?? 3000);
let seed = +(process.argv[3] ?? 12345) >>> 0;
function rnd() { // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const cp = (...c) => String.fromCodePoint(...c);

const ws = [" ", "  ", "\t", "\n", "\r\n", "\r", "\v", "\f", "\u0085", "\u00A0", "\u1680", "\u2000", "\u2002",
  "\u2003", "\u2009", "\u200A", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000", "\u180E", "\u200B", "\uFEFF",
  "\u200C", "\u200D", "\u2060", " \n", "\n ", "\t\n", " \t", "\n\n", "\r\n\r\n", "   ", "\n\n\n"];
const words = ["Hello", "world", "the", "The", "THE", "don't", "I'm", "you're", "we've", "they'll", "she'd", "IT'S",
  "WE'RE", "O'Neil", "rock'n'roll", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Ve", "''", "'",
  "café", "naïve", "résumé", "Straße", "İstanbul", "ǅemal", "ﬁne", "Ærø", "ŒUVRE", "москва", "Привет", "Ελλάδα",
  "Ωμέγα", "שלום", "مرحبا", "السَّلَامُ", "नमस्ते", "हिन्दी", "ক্ষ", "தமிழ்", "ไทย", "ภาษาไทย", "ລາວ", "ខ្មែរ", "မြန်မာ",
  "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ᠮᠣᠩᠭᠣᠯ", "བོད་", "中文", "漢字", "日本語", "ひらがな", "カタカナ", "ｶﾀｶﾅ",
  "한국어", "한글", "각", "𠀀𠀁", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝐀𝐁𝐂", "ℌ𝔢𝔩𝔩𝔬", "ＡＢＣ", "ａｂｃ", "ℕℤℚ", "Ⅻ", "ⅻ", "K", "Å", "ſ",
  "e\u0301", "a\u0300\u0301", "n\u0303", "\u0301", "\u20DD", "x\u0336y", "ก\u0e34", "\u093f", "ߊ", "𐐀𐐨",
  "camelCase", "snake_case", "kebab-case", "SCREAMING_CASE", "x86_64", "utf-8", "i18n", "3rd", "1st", "a1b2c3"];
const digits = ["0", "7", "42", "123", "1234", "12345", "123456", "1234567", "3.14159", "1,000,000", "1_000",
  "0x1F", "0b1010", "1e-10", "-5", "+7", "٠١٢٣٤", "۱۲۳", "०१२३", "০১২", "０１２３", "²³", "½", "¾", "①②③", "Ⅳ",
  "𝟙𝟚𝟛", "𝟎𝟏", "፩፪", "〇", "一二三", "1️⃣", "#️⃣", "99999999999999999999", "0000000", "2024-01-15", "12:30:45"];
const emoji = ["😀", "🦙", "👍", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏾‍🚀", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤", "♥️", "☺️", "✌🏻",
  "🇯🇵", "🇺🇸", "🇩🇪🇫🇷", "🇦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🤷‍♂️", "🙋🏻‍♀️", "👁️‍🗨️", "🫠", "🥹", "🪿", "©️", "®", "™", "⌚", "⏰", "☕",
  "🔥🔥🔥", "✨", "💯", "🆗", "🅰️", "Ⓜ️", "↩️", "▶️", "⚠️", "\uFE0F", "\uFE0E", "\u{E0100}", "\u{1F3FB}"];
const punct = [".", ",", "!", "?", "...", "…", "!!!", "?!", ";", ":", "-", "--", "—", "–", "_", "__", "(", ")", "[", "]",
  "{", "}", "<", ">", "<<", ">>", "=", "==", "===", "!=", "=>", "->", "<-", "::", "/", "//", "/*", "*/", "\\", "|",
  "||", "&", "&&", "@", "#", "##", "$", "%", "^", "~", "`", "```", "'", "\"", "\"\"\"", "«", "»", "“", "”", "‘", "’",
  "„", "¿", "¡", "。", "、", "，", "！", "？", "：", "；", "「", "」", "『", "』", "【", "】", "《", "》", "・", "·",
  "§", "¶", "†", "‡", "•", "°", "±", "×", "÷", "≠", "≤", "≥", "∞", "∑", "√", "€", "£", "¥", "₹", "₿", "¢", "←", "→",
  "⇒", "∀", "∃", "∈", "⊂", "⊕", "■", "□", "▲", "●", "★", "☆", "♠", "♪", "\u00AD", "\u0600", "\u06DD", "؟", "।", "॥",
  "۔", "،", "\u2E2E", "\u3030", "\u303D", "%20", "&amp;", "\\n", "\\t"];
const specials = ["<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
  "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>",
  "<think>", "</think>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
  "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|object_ref_start|>", "<|vision_pad|>", "<bos>", "<eos>",
  "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<mask>", "[multimodal]", "<unused0>", "<unused99>",
  "<0x41>", "<0x0A>", "<0xFF>", "<0x00>", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "<|end|>", "<|user|>",
  "<|assistant|>", "<|system|>", "<|im_start", "im_end|>", "<|", "|>", "<s", "s>", "<<s>>", "<s><s>", "</s></s>",
  "<|im_start|><|im_end|>", "<|endoftext|><|endoftext|>", "<|EOT|>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
  "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<filename>", "<|im_end|>\n", "\n<|im_start|>"];
const codeBits = ["func main() {\n\tfmt.Println(\"hi\")\n}\n", "def f(x):\n    return x**2\n", "if (a && b) { return; }",
  "for i in range(10):\n\tprint(i)\n", "#include <stdio.h>\nint main(void) { return 0; }\n",
  "\t\tindented\t\ttabs\n", "    four spaces\n        eight\n", "x = [1, 2, 3]  # comment\n", "SELECT * FROM t WHERE id = 1;",
  "<div class=\"a\">text</div>", "{\"key\": \"value\", \"n\": 12}", "a\tb\tc\n1\t2\t3\r\n", "fn main() -> Result<(), E> {}",
  "// TODO: fix\n/* block */", "$ ls -la | grep foo > out.txt", "https://example.com/path?q=1&r=2#frag",
  "user@example.com", "C:\\Users\\name\\file.txt", "@@ -1,3 +1,4 @@\n-old\n+new\n", "\\begin{equation} x^2 \\end{equation}",
  "return a<<2>>1;", "i++; j--; k+=1;", "λx.x", "1+1=2", "a==b!=c", "'''docstring'''", "`code`", "**bold** _it_",
  "- item\n- item\n", "| a | b |\n|---|---|\n", "#!/bin/bash\n"];
const ranges = [[0x20, 0x7E], [0xA0, 0x24F], [0x300, 0x36F], [0x370, 0x3FF], [0x400, 0x4FF], [0x530, 0x58F],
  [0x590, 0x5FF], [0x600, 0x6FF], [0x700, 0x74F], [0x900, 0x97F], [0x980, 0x9FF], [0xB80, 0xBFF], [0xE00, 0xE7F],
  [0x1100, 0x11FF], [0x1780, 0x17FF], [0x1800, 0x18AF], [0x1AB0, 0x1AFF], [0x1DC0, 0x1DFF], [0x1E00, 0x1FFF],
  [0x2000, 0x206F], [0x2070, 0x209F], [0x20A0, 0x20CF], [0x20D0, 0x20FF], [0x2100, 0x218F], [0x2190, 0x23FF],
  [0x2460, 0x24FF], [0x2500, 0x27BF], [0x2C00, 0x2E7F], [0x3000, 0x303F], [0x3040, 0x30FF], [0x3130, 0x318F],
  [0x31F0, 0x32FF], [0x4E00, 0x4F00], [0xA000, 0xA4CF], [0xA640, 0xA6FF], [0xA700, 0xA7FF], [0xAC00, 0xAD00],
  [0xE000, 0xE010], [0xF900, 0xFAFF], [0xFB00, 0xFB4F], [0xFE00, 0xFE6F], [0xFF00, 0xFFEF], [0xFFF0, 0xFFFD],
  [0x10000, 0x1007F], [0x10400, 0x1044F], [0x1D400, 0x1D7FF], [0x1F000, 0x1F0FF], [0x1F100, 0x1F1FF],
  [0x1F300, 0x1F6FF], [0x1F900, 0x1FAFF], [0x20000, 0x20100], [0xE0000, 0xE007F], [0xF0000, 0xF0010]];
function randChar() {
  const [lo, hi] = pick(ranges);
  let c = int(lo, hi);
  if (c >= 0xD800 && c <= 0xDFFF) c = 0x41;
  return cp(c);
}
const atomKinds = [
  [8, () => pick(words)], [5, () => pick(ws)], [3, () => pick(digits)], [3, () => pick(emoji)],
  [4, () => pick(punct)], [2, () => pick(specials)], [1, () => pick(codeBits)], [4, () => randChar()],
  [2, () => " " + pick(words)], [1, () => pick(ws).repeat(int(2, 6))], [1, () => "'" + pick(["s", "S", "t", "re", "RE", "ll", "Ll", "d", "m", "ve", "x", "ſ", "K"])],
];
const totalW = atomKinds.reduce((a, k) => a + k[0], 0);
function atom() {
  let r = rnd() * totalW;
  for (const [w, f] of atomKinds) { if ((r -= w) < 0) return f(); }
  return "x";
}
const fixed = [
  "", " ", "  ", "\n", "\t", "\r\n", " \r\n ", "\u00A0", "\u3000", "\u3000\u3000", "\u0085", "\uFEFF", "\uFEFFHello",
  "Hello\u00A0world", "Hello\u3000world", "Hello\u2003world", "Hello\u0085world", "Hello\u2028world", "Hello\u180Eworld",
  "Hello \u00A0world", "Hello\u00A0 world", "a \u00A0 b", "\u00A0\u00A0\u00A0x", "x\u00A0\u00A0\u00A0", " \u3000 \u3000 ",
  "\t\t\n \r\n\v\f x", "line1\r\nline2\r\n\r\nline3", "\r\r\r", "\n\r", " \n\n \n", "a  \n  b", "a \t\n b",
  "<s>", "</s>", "<s>Hello</s>", " <s> ", "<s> Hello", "Hello <s>", "<unk>", "<0x41>", "<0x41><0x42>", "<0xFF>",
  "<|im_start|>", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", " <|im_start|> ", "<|im_start|><|im_start|>",
  "<|begin_of_text|>", "<|begin_of_text|>Hello", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "<|endoftext|>", "a<|endoftext|>b", "<|endoftext|> ", " <|endoftext|>", "<think>\n\n</think>\n\n", "<tool_call>x</tool_call>",
  "<bos>", "<bos><bos>", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n", "<eos>", "<pad>", "<mask>",
  "[CLS] [SEP]", "<|end|>", "<|end|> \n x", "<|user|>\nhi<|end|>\n<|assistant|>", "<|im_end|>\n\n", "\n\n<|im_start|>",
  "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890".repeat(5),
  "9".repeat(100), "0".repeat(33), "1 2 3", "1.2.3", "١٢٣٤٥٦٧", "１２３４５", "²³¹", "½¼¾", "Ⅰ Ⅱ Ⅲ Ⅳ", "𝟙𝟚𝟛𝟜",
  "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇯🇵🇺🇸🇩🇪", "1️⃣2️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🦙🦙🦙", "🦙".repeat(40), "❤️‍🔥", "🧑🏻‍🤝‍🧑🏿",
  " ".repeat(100), "\t".repeat(20), "\n".repeat(50), "\r\n".repeat(10), " \n".repeat(10), "a".repeat(1000),
  "ab ".repeat(200), "Ab".repeat(100), "'s'S't'T're'RE've'VE'm'M'll'LL'd'D", "I'M YOU'RE HE'LL", "'ſ 'K",
  "don't", " don't", "don’t", "DON'T", "'''", "'s", "x's", "1's", "🦙's", " 's", "a 's", "\n's",
  "español ñ", "Tiếng Việt", "ʻŌlelo", "Ἀθῆναι", "ﬀﬁﬂﬃﬄ", "ǄǅǆǇǈǉ", "ΣσςΣ", "İıIi", "Ǳǲǳ",
  "e\u0301e\u0301e\u0301", "\u0301\u0301\u0301", " \u0301", "a \u0301b", "\u0915\u094D\u0937", "ก\u0e48\u0e49",
  "\u05E9\u05C1\u05B8", "\u0627\u064E\u0644\u0652", "\u0E33", "x\u200Dy", "x\u200Cy", "x\u200By", "x\u2060y",
  "\u{E0001}\u{E0041}", "\uE000\uF8FF", "\u{F0000}", "\u{10FFFD}", "\uFFFD", "\uFFFC", "\u0000", "\u0001\u0002",
  "\u001B[31mred\u001B[0m", "\u007F", "\u0080\u0081\u009F", "\u00AD", "\u034F", "\u061C", "\u200E\u200F", "\u202A\u202C",
  "\u2066\u2069", "\u3164", "\u115F\u1160", "\uFFA0", "\u2800", "\u1D00", "ꙮ", "𒀀", "𓀀", "𝄞", "🀄", "🃏",
  "\u0378", "\u0530", "\u{1F7F0}", "\u{31350}", "\u{2EBF0}", "\u{11F00}", "\u{1E030}", "\u{1CCF0}", "\u{10D40}",
];
const out = [...fixed];
while (out.length < count) {
  const n = int(1, 12);
  let s = "";
  for (let i = 0; i < n; i++) s += atom();
  out.push(s);
}
for (const s of out.slice(0, count)) process.stdout.write(JSON.stringify(s) + "\n");
