package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// FromSchema compiles a JSON Schema into a grammar of the JSON texts it
// allows, with the conventions of llama.cpp's json-schema-to-grammar (so a
// model sees the same constraint in either engine): object properties in
// a fixed order (required ones first, in declaration order, then any
// subset of the optional ones in order), whitespace between tokens bounded
// (one space, or one or two newlines and up to 20 blanks), numbers of at
// most 16 digits, enum and const values as their JSON text.
//
// It covers type (and lists of types), properties, required,
// additionalProperties, enum, const, anyOf, oneOf, allOf, $ref into $defs
// or definitions, items, prefixItems, minItems, maxItems, minLength,
// maxLength, pattern, format (date, time, date-time, uuid, email,
// hostname, ipv4, uri) and integer minimum, maximum, exclusiveMinimum and
// exclusiveMaximum (and integer-valued bounds on numbers, written without
// an exponent). Other keywords that constrain values are refused with an
// error naming them; annotations (title, description, …) are ignored, and
// so is uniqueItems, which no grammar can check.
func FromSchema(schema []byte) (*Grammar, error) {
	src, err := SchemaToGBNF(schema)
	if err != nil {
		return nil, err
	}
	g, err := Compile(src)
	if err != nil {
		return nil, fmt.Errorf("grammar: the schema's grammar does not compile (a bug): %w", err)
	}
	return g, nil
}

// SchemaToGBNF converts a JSON Schema to GBNF source (see FromSchema).
func SchemaToGBNF(schema []byte) (string, error) { return SchemaRules(schema, "root") }

// SchemaRules is SchemaToGBNF with the schema's rule named top instead of
// root, for a grammar that embeds it (its other rules are named after
// top too, and the space rule is shared).
func SchemaRules(schema []byte, top string) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	c := &schemaConv{rules: map[string]string{}, refRules: map[string]string{}, order: map[string][]string{}}
	root, err := c.decode(dec, 0)
	if err != nil {
		return "", fmt.Errorf("grammar: the schema is not JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return "", fmt.Errorf("grammar: the schema is not JSON: text after its end")
	}
	c.root = root
	c.rules["space"] = `| " " | "\n"{1,2} [ \t]{0,20}`
	name, err := c.visit(root, top, "#")
	if err != nil {
		return "", err
	}
	if name != top {
		c.rules[top] = name
	}
	names := make([]string, 0, len(c.rules))
	for n := range c.rules {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s ::= %s\n", n, c.rules[n])
	}
	return b.String(), nil
}

// SchemaError is a schema the converter cannot express.
type SchemaError struct {
	Path string // JSON pointer of the subschema
	Msg  string
}

func (e *SchemaError) Error() string { return fmt.Sprintf("grammar: schema at %s: %s", e.Path, e.Msg) }

type schemaConv struct {
	root     any
	rules    map[string]string
	refRules map[string]string   // $ref → rule name
	order    map[string][]string // object (by %p) → its keys in text order
	depth    int
}

// decode reads a JSON value, keeping the key order of objects in c.order.
func (c *schemaConv) decode(dec *json.Decoder, depth int) (any, error) {
	if depth > 2*maxSchemaDepth {
		return nil, fmt.Errorf("nested too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			var keys []string
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := c.decode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := m[k]; !dup {
					keys = append(keys, k)
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			c.order[fmt.Sprintf("%p", m)] = keys
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := c.decode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// primitives are the building blocks, added on first use.
var primitives = map[string]string{
	"boolean":       `("true" | "false")`,
	"decimal-part":  `[0-9]{1,16}`,
	"integral-part": `[0] | [1-9] [0-9]{0,15}`,
	"number":        `("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)?`,
	"integer":       `("-"? integral-part)`,
	"value":         `object | array | string | number | boolean | null`,
	"object":        `"{" space ( string ":" space value ("," space string ":" space value)* )? space "}"`,
	"array":         `"[" space ( value ("," space value)* )? space "]"`,
	"char":          `[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})`,
	"string":        `"\"" char* "\""`,
	"null":          `"null"`,
	"uuid":          `"\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\""`,
	"date":          `[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )`,
	"time":          `([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )`,
	"date-time":     `date "T" time`,
	// Formats llama.cpp lacks: practical subsets of RFC 5321, 1123, 791
	// and 3986 written with unescaped characters only.
	"email-local":    `[a-zA-Z0-9!#$%&'*+/=?^_{|}~-]+ ("." [a-zA-Z0-9!#$%&'*+/=?^_{|}~-]+)*`,
	"hostname":       `hostname-label ("." hostname-label)*`,
	"hostname-label": `[a-zA-Z0-9] ([a-zA-Z0-9-]{0,61} [a-zA-Z0-9])?`,
	"ipv4":           `ipv4-octet "." ipv4-octet "." ipv4-octet "." ipv4-octet`,
	"ipv4-octet":     `"25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9]`,
	"uri":            `[a-zA-Z] [a-zA-Z0-9+.-]* ":" uri-char+`,
	"uri-char":       `[a-zA-Z0-9._~:/?#@!$&'()*+,;=%-] | "[" | "]"`,
}

var primitiveDeps = map[string][]string{
	"number": {"integral-part", "decimal-part"}, "integer": {"integral-part"},
	"value":  {"object", "array", "string", "number", "boolean", "null"},
	"object": {"string", "value"}, "array": {"value"}, "string": {"char"},
	"date-time": {"date", "time"}, "hostname": {"hostname-label"}, "ipv4": {"ipv4-octet"}, "uri": {"uri-char"},
}

// prim adds a primitive rule and what it uses, and returns its name.
func (c *schemaConv) prim(name string) string {
	if _, ok := c.rules[name]; ok {
		return name
	}
	c.rules[name] = primitives[name]
	for _, d := range primitiveDeps[name] {
		c.prim(d)
	}
	return name
}

// formats maps a string format to the rule of its quoted text.
var formats = map[string]string{
	"date": `"\"" date "\""`, "time": `"\"" time "\""`, "date-time": `"\"" date-time "\""`,
	"uuid": `uuid`, "email": `"\"" email-local "@" hostname "\""`, "hostname": `"\"" hostname "\""`,
	"ipv4": `"\"" ipv4 "\""`, "uri": `"\"" uri "\""`,
}

var formatDeps = map[string][]string{
	"date": {"date"}, "time": {"time"}, "date-time": {"date-time"}, "uuid": {"uuid"},
	"email": {"email-local", "hostname"}, "hostname": {"hostname"}, "ipv4": {"ipv4"}, "uri": {"uri"},
}

// annotations are keywords that do not constrain values.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true, "$schema": true, "$id": true,
	"$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$defs": true,
	"definitions": true, "strict": true,
	// uniqueItems cannot be expressed by a context-free grammar: like
	// llama.cpp, the converter accepts it and does not enforce it.
	"uniqueItems": true,
}

// supported are the keywords the converter implements.
var supported = map[string]bool{
	"type": true, "properties": true, "required": true, "additionalProperties": true, "enum": true,
	"const": true, "anyOf": true, "oneOf": true, "allOf": true, "$ref": true, "items": true,
	"prefixItems": true, "minItems": true, "maxItems": true, "minLength": true, "maxLength": true,
	"pattern": true, "format": true, "minimum": true, "maximum": true, "exclusiveMinimum": true,
	"exclusiveMaximum": true,
}

func (c *schemaConv) add(name, body string) string {
	name = ruleName(name)
	if old, ok := c.rules[name]; ok && old != body {
		for i := 1; ; i++ {
			n := fmt.Sprintf("%s%d", name, i)
			if old, ok := c.rules[n]; !ok || old == body {
				name = n
				break
			}
		}
	}
	c.rules[name] = body
	return name
}

// ruleName turns a name into a rule name: letters, digits and '-'.
func ruleName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && isWordChar(byte(r)) && r != '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "r"
	}
	n := b.String()
	if _, reserved := primitives[n]; reserved || n == "space" {
		n += "-"
	}
	return n
}

// literal writes s as a GBNF string literal.
func literal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonText writes a value as Python's json.dumps does (", " and ": ").
func jsonText(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = jsonText(k) + ": " + jsonText(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

const maxSchemaDepth = 64

// visit returns the rule for schema s (at JSON pointer path), named after
// name where it needs a rule of its own.
func (c *schemaConv) visit(s any, name, path string) (string, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxSchemaDepth {
		return "", &SchemaError{path, fmt.Sprintf("nested more than %d levels", maxSchemaDepth)}
	}
	switch x := s.(type) {
	case bool:
		if x {
			return c.add(name, c.prim("value")), nil
		}
		return "", &SchemaError{path, "the schema false allows no value"}
	case map[string]any:
		return c.visitObject(x, name, path)
	}
	return "", &SchemaError{path, "a schema must be an object or a boolean"}
}

func (c *schemaConv) visitObject(s map[string]any, name, path string) (string, error) {
	for k := range s {
		if !supported[k] && !annotations[k] {
			return "", &SchemaError{path, fmt.Sprintf("keyword %q is not supported", k)}
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		return c.ref(ref, path)
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[k].([]any); ok {
			return c.union(alts, name, path+"/"+k)
		}
	}
	if types, ok := s["type"].([]any); ok {
		alts := make([]any, len(types))
		for i, t := range types {
			cp := map[string]any{}
			for k, v := range s {
				cp[k] = v
			}
			cp["type"] = t
			alts[i] = cp
		}
		return c.union(alts, name, path+"/type")
	}
	typ, _ := s["type"].(string)
	if v, ok := s["const"]; ok {
		return c.add(name, literal(jsonText(v))), nil
	}
	if vs, ok := s["enum"].([]any); ok {
		if len(vs) == 0 {
			return "", &SchemaError{path, "an empty enum allows no value"}
		}
		alts := make([]string, len(vs))
		for i, v := range vs {
			alts[i] = literal(jsonText(v))
		}
		return c.add(name, "("+strings.Join(alts, " | ")+")"), nil
	}
	_, hasProps := s["properties"]
	ap, hasAP := s["additionalProperties"]
	if (typ == "" || typ == "object") && (hasProps || hasAP && ap != true) {
		return c.object(s, name, path)
	}
	if all, ok := s["allOf"].([]any); ok && (typ == "" || typ == "object") {
		return c.allOf(all, name, path)
	}
	_, hasItems := s["items"]
	_, hasPrefix := s["prefixItems"]
	if (typ == "" || typ == "array") && (hasItems || hasPrefix) {
		return c.array(s, name, path)
	}
	if pat, ok := s["pattern"].(string); ok && (typ == "" || typ == "string") {
		body, err := c.pattern(pat, name, path)
		if err != nil {
			return "", err
		}
		return c.add(name, body), nil
	}
	if f, ok := s["format"].(string); ok && (typ == "" || typ == "string") {
		key := f
		if strings.HasPrefix(f, "uuid") && len(f) <= 5 && strings.Trim(f[4:], "12345") == "" {
			key = "uuid" // uuid1 … uuid5
		}
		body, ok := formats[key]
		if !ok {
			return "", &SchemaError{path, fmt.Sprintf("format %q is not supported (date, time, date-time, uuid, email, hostname, ipv4, uri are)", f)}
		}
		for _, d := range formatDeps[key] {
			c.prim(d)
		}
		return c.add(name, body), nil
	}
	_, hasMin := s["minLength"]
	_, hasMax := s["maxLength"]
	if typ == "string" && (hasMin || hasMax) {
		lo, hi, err := c.bounds(s, "minLength", "maxLength", path)
		if err != nil {
			return "", err
		}
		return c.add(name, `"\"" `+repetition(c.prim("char"), lo, hi, "")+` "\""`), nil
	}
	if typ == "integer" {
		if r, ok, err := c.intRange(s, path); err != nil {
			return "", err
		} else if ok {
			return c.add(name, r), nil
		}
	}
	if typ == "number" {
		if r, ok, err := c.numberRange(s, path); err != nil {
			return "", err
		} else if ok {
			return c.add(name, r), nil
		}
	}
	for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		if _, ok := s[k]; ok && typ != "integer" && typ != "number" {
			return "", &SchemaError{path, fmt.Sprintf("%q is supported on integers and numbers only", k)}
		}
	}
	switch typ {
	case "":
		if _, ok := s["allOf"]; ok {
			return c.allOf(s["allOf"].([]any), name, path)
		}
		if len(s) == 0 {
			return c.add(name, c.prim("object")), nil
		}
		return c.add(name, c.prim("value")), nil
	case "object", "array", "string", "number", "integer", "boolean", "null":
		return c.add(name, c.prim(typ)), nil
	}
	return "", &SchemaError{path, fmt.Sprintf("type %q is not a JSON Schema type", typ)}
}

func (c *schemaConv) union(alts []any, name, path string) (string, error) {
	if len(alts) == 0 {
		return "", &SchemaError{path, "an empty union allows no value"}
	}
	var rs []string
	for i, a := range alts {
		r, err := c.visit(a, fmt.Sprintf("%s-%d", name, i), fmt.Sprintf("%s/%d", path, i))
		if err != nil {
			return "", err
		}
		rs = append(rs, r)
	}
	return c.add(name, strings.Join(rs, " | ")), nil
}

// ref resolves a local reference (#/$defs/x, #/definitions/x, #/…).
func (c *schemaConv) ref(ref, path string) (string, error) {
	if r, ok := c.refRules[ref]; ok {
		return r, nil
	}
	if !strings.HasPrefix(ref, "#") {
		return "", &SchemaError{path, fmt.Sprintf("$ref %q: only local references (#/…) are supported", ref)}
	}
	var target any = c.root
	if p := strings.TrimPrefix(ref, "#"); p != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch t := target.(type) {
			case map[string]any:
				v, ok := t[tok]
				if !ok {
					return "", &SchemaError{path, fmt.Sprintf("$ref %q: no %q", ref, tok)}
				}
				target = v
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(t) {
					return "", &SchemaError{path, fmt.Sprintf("$ref %q: no item %q", ref, tok)}
				}
				target = t[i]
			default:
				return "", &SchemaError{path, fmt.Sprintf("$ref %q does not resolve", ref)}
			}
		}
	}
	name := ruleName("ref" + strings.TrimPrefix(ref, "#"))
	// Reserve the name first: a recursive schema refers to itself.
	c.refRules[ref] = name
	c.rules[name] = "" // placeholder
	r, err := c.visit(target, name+"-body", ref)
	if err != nil {
		return "", err
	}
	c.rules[name] = r
	return name, nil
}

// object builds "{" kv ("," kv)* "}" with the required properties in
// declaration order, then any in-order subset of the optional ones (and
// additional ones last, when allowed).
func (c *schemaConv) object(s map[string]any, name, path string) (string, error) {
	props, _ := s["properties"].(map[string]any)
	order, err := c.propertyOrder(s)
	if err != nil {
		return "", &SchemaError{path, err.Error()}
	}
	required := map[string]bool{}
	if rs, ok := s["required"].([]any); ok {
		for _, r := range rs {
			if k, ok := r.(string); ok {
				if _, ok := props[k]; !ok {
					// A required property without a schema takes any value.
					if props == nil {
						props = map[string]any{}
					}
					props[k] = true
					order = append(order, k)
				}
				required[k] = true
			}
		}
	}
	kv := map[string]string{}
	for _, k := range order {
		r, err := c.visit(props[k], name+"-"+k, path+"/properties/"+k)
		if err != nil {
			return "", err
		}
		kv[k] = c.add(name+"-"+k+"-kv", literal(jsonText(k))+` space ":" space `+r)
	}
	var req, opt []string
	for _, k := range order {
		if required[k] {
			req = append(req, k)
		} else {
			opt = append(opt, k)
		}
	}
	if ap, ok := s["additionalProperties"]; ok && ap != false {
		var val string
		if m, ok := ap.(map[string]any); ok {
			if val, err = c.visit(m, name+"-additional-value", path+"/additionalProperties"); err != nil {
				return "", err
			}
		} else {
			val = c.prim("value")
		}
		key := c.prim("string")
		if len(order) > 0 {
			key = c.add(name+"-additional-k", c.notStrings(order))
		}
		kv["*"] = c.add(name+"-additional-kv", key+` ":" space `+val)
		opt = append(opt, "*")
	}
	var b strings.Builder
	b.WriteString(`"{" space `)
	for i, k := range req {
		if i > 0 {
			b.WriteString(` "," space `)
		}
		b.WriteString(kv[k])
	}
	if len(opt) > 0 {
		b.WriteString(" (")
		if len(req) > 0 {
			b.WriteString(` "," space ( `)
		}
		var rest func(ks []string, optional bool) string
		rest = func(ks []string, optional bool) string {
			k := ks[0]
			comma := `( "," space ` + kv[k] + ` )`
			var r string
			switch {
			case optional && k == "*":
				r = comma + "*"
			case optional:
				r = comma + "?"
			case k == "*":
				r = kv[k] + " " + comma + "*"
			default:
				r = kv[k]
			}
			if len(ks) > 1 {
				r += " " + c.add(name+"-"+k+"-rest", rest(ks[1:], true))
			}
			return r
		}
		for i := range opt {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(rest(opt[i:], false))
		}
		if len(req) > 0 {
			b.WriteString(" )")
		}
		b.WriteString(" )?")
	}
	b.WriteString(` space "}"`)
	return c.add(name, b.String()), nil
}

// propertyOrder lists the properties in the order of the schema text.
func (c *schemaConv) propertyOrder(s map[string]any) ([]string, error) {
	raw, ok := s["properties"]
	if !ok {
		return nil, nil
	}
	props, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("properties must be an object")
	}
	if keys, ok := c.order[fmt.Sprintf("%p", props)]; ok {
		return keys, nil
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// notStrings matches a JSON string that is none of names.
func (c *schemaConv) notStrings(names []string) string {
	type node struct {
		kids map[rune]*node
		end  bool
	}
	root := &node{kids: map[rune]*node{}}
	for _, n := range names {
		cur := root
		for _, r := range n {
			nx, ok := cur.kids[r]
			if !ok {
				nx = &node{kids: map[rune]*node{}}
				cur.kids[r] = nx
			}
			cur = nx
		}
		cur.end = true
	}
	char := c.prim("char")
	var visit func(n *node) string
	visit = func(n *node) string {
		var rs []rune
		for r := range n.kids {
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
		var alts []string
		var excl strings.Builder
		for _, r := range rs {
			alts = append(alts, literal(string(r))+" ("+visit(n.kids[r])+")")
			excl.WriteString(classChar(r))
		}
		alts = append(alts, `[^"\\`+excl.String()+`] `+char+"*")
		body := strings.Join(alts, " | ")
		if !n.end {
			body += " | " // the string may end here: it is no name
		}
		return body
	}
	return `"\"" (` + visit(root) + `) "\""`
}

// classChar escapes r for a character class.
func classChar(r rune) string {
	switch r {
	case ']', '[', '\\', '^', '-', '"':
		return `\` + string(r)
	}
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return string(r)
}

func (c *schemaConv) allOf(all []any, name, path string) (string, error) {
	merged := map[string]any{}
	props := map[string]any{}
	var order []string
	var required []any
	for i, a := range all {
		m, ok := a.(map[string]any)
		if !ok {
			return "", &SchemaError{fmt.Sprintf("%s/allOf/%d", path, i), "allOf entries must be objects"}
		}
		if ref, ok := m["$ref"].(string); ok {
			if _, err := c.ref(ref, path); err != nil {
				return "", err
			}
			m = c.resolve(ref)
		}
		p, _ := m["properties"].(map[string]any)
		keys, _ := c.propertyOrder(m)
		for _, k := range keys {
			if _, dup := props[k]; !dup {
				order = append(order, k)
			}
			props[k] = p[k]
		}
		if rs, ok := m["required"].([]any); ok {
			required = append(required, rs...)
		}
	}
	merged["properties"] = props
	c.order[fmt.Sprintf("%p", props)] = order
	merged["required"] = required
	return c.object(merged, name, path)
}

// resolve returns the object a local $ref points at (nil if none).
func (c *schemaConv) resolve(ref string) map[string]any {
	var target any = c.root
	for _, tok := range strings.Split(strings.TrimPrefix(strings.TrimPrefix(ref, "#"), "/"), "/") {
		if tok == "" {
			continue
		}
		m, ok := target.(map[string]any)
		if !ok {
			return nil
		}
		target = m[tok]
	}
	m, _ := target.(map[string]any)
	return m
}

func (c *schemaConv) array(s map[string]any, name, path string) (string, error) {
	if tuple, ok := s["prefixItems"].([]any); ok {
		return c.tuple(tuple, name, path+"/prefixItems")
	}
	if tuple, ok := s["items"].([]any); ok {
		return c.tuple(tuple, name, path+"/items")
	}
	item, err := c.visit(s["items"], name+"-item", path+"/items")
	if err != nil {
		return "", err
	}
	lo, hi, err := c.bounds(s, "minItems", "maxItems", path)
	if err != nil {
		return "", err
	}
	return c.add(name, `"[" space `+repetition(item, lo, hi, `"," space`)+` space "]"`), nil
}

func (c *schemaConv) tuple(items []any, name, path string) (string, error) {
	var b strings.Builder
	b.WriteString(`"[" space `)
	for i, it := range items {
		if i > 0 {
			b.WriteString(` "," space `)
		}
		r, err := c.visit(it, fmt.Sprintf("%s-tuple-%d", name, i), fmt.Sprintf("%s/%d", path, i))
		if err != nil {
			return "", err
		}
		b.WriteString(r)
	}
	b.WriteString(` space "]"`)
	return c.add(name, b.String()), nil
}

// bounds reads a pair of non-negative integer bounds (hi -1: none).
func (c *schemaConv) bounds(s map[string]any, minKey, maxKey, path string) (int, int, error) {
	get := func(k string, def int) (int, error) {
		v, ok := s[k]
		if !ok {
			return def, nil
		}
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < 0 || i > maxRepeat {
			return 0, &SchemaError{path, fmt.Sprintf("%q must be an integer in [0, %d]", k, maxRepeat)}
		}
		return int(i), nil
	}
	lo, err := get(minKey, 0)
	if err != nil {
		return 0, 0, err
	}
	hi, err := get(maxKey, -1)
	if err != nil {
		return 0, 0, err
	}
	if hi >= 0 && hi < lo {
		return 0, 0, &SchemaError{path, fmt.Sprintf("%s %d is below %s %d", maxKey, hi, minKey, lo)}
	}
	return lo, hi, nil
}

// repetition writes item repeated lo to hi times (hi < 0: unbounded),
// separated by sep.
func repetition(item string, lo, hi int, sep string) string {
	if hi == 0 {
		return ""
	}
	if sep == "" {
		switch {
		case lo == 0 && hi == 1:
			return item + "?"
		case lo == 1 && hi < 0:
			return item + "+"
		case lo == 0 && hi < 0:
			return item + "*"
		case hi < 0:
			return fmt.Sprintf("%s{%d,}", item, lo)
		}
		return fmt.Sprintf("%s{%d,%d}", item, lo, hi)
	}
	restHi := hi - 1
	if hi < 0 {
		restHi = -1
	}
	r := item + " " + repetition("("+sep+" "+item+")", max(lo-1, 0), restHi, "")
	if lo == 0 {
		r = "(" + r + ")?"
	}
	return r
}

// maxDigits bounds the integers a one-sided range allows, as llama.cpp's
// numbers: at most 16 digits.
const maxInt16 = 9999999999999999

// intRange returns the rule for an integer with bounds, if it has any.
func (c *schemaConv) intRange(s map[string]any, path string) (string, bool, error) {
	num := func(k string) (int64, bool, error) {
		v, ok := s[k]
		if !ok {
			return 0, false, nil
		}
		n, _ := v.(json.Number)
		if i, err := n.Int64(); err == nil {
			return i, true, nil
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1e18 {
			return 0, false, &SchemaError{path, fmt.Sprintf("%q must be a number within ±1e18", k)}
		}
		return int64(math.Ceil(f)), true, nil
	}
	lo, hi := int64(-maxInt16), int64(maxInt16)
	bounded := false
	if v, ok, err := num("minimum"); err != nil {
		return "", false, err
	} else if ok {
		lo, bounded = v, true
	} else if v, ok, err := num("exclusiveMinimum"); err != nil {
		return "", false, err
	} else if ok {
		lo, bounded = v+1, true
	}
	if v, ok, err := num("maximum"); err != nil {
		return "", false, err
	} else if ok {
		hi, bounded = v, true
	} else if v, ok, err := num("exclusiveMaximum"); err != nil {
		return "", false, err
	} else if ok {
		hi, bounded = v-1, true
	}
	if !bounded {
		return "", false, nil
	}
	if lo > hi {
		return "", false, &SchemaError{path, fmt.Sprintf("no integer lies in [%d, %d]", lo, hi)}
	}
	return "(" + intAlternatives(lo, hi) + ")", true, nil
}

// intAlternatives matches the decimal integers of [lo, hi] (no leading
// zeros, no "-0").
func intAlternatives(lo, hi int64) string {
	var alts []string
	if lo < 0 {
		nhi := -lo
		nlo := int64(1)
		if hi < 0 {
			nlo = -hi
		}
		alts = append(alts, `"-" (`+uintAlternatives(nlo, nhi)+")")
		if hi < 0 {
			return alts[0]
		}
		lo = 0
	}
	alts = append(alts, uintAlternatives(lo, hi))
	return strings.Join(alts, " | ")
}

func uintAlternatives(lo, hi int64) string {
	var alts []string
	for d := len(strconv.FormatInt(lo, 10)); d <= len(strconv.FormatInt(hi, 10)); d++ {
		a, b := int64(0), int64(9)
		if d > 1 {
			a, b = pow10(d-1), pow10(d)-1
		}
		a, b = max(a, lo), min(b, hi)
		if a <= b {
			alts = append(alts, sameLength(strconv.FormatInt(a, 10), strconv.FormatInt(b, 10))...)
		}
	}
	return strings.Join(alts, " | ")
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// sameLength matches the numbers from a to b, decimal strings of one
// length, as alternatives of digit ranges.
func sameLength(a, b string) []string {
	if len(a) == 0 {
		return []string{""}
	}
	digit := func(x, y byte) string {
		if x == y {
			return "[" + string(x) + "]"
		}
		return "[" + string(x) + "-" + string(y) + "]"
	}
	join := func(head string, tails []string) []string {
		out := make([]string, len(tails))
		for i, t := range tails {
			out[i] = strings.TrimSpace(head + " " + t)
		}
		return out
	}
	if a[0] == b[0] {
		return join(digit(a[0], a[0]), sameLength(a[1:], b[1:]))
	}
	n := len(a) - 1
	zeros, nines := strings.Repeat("0", n), strings.Repeat("9", n)
	rest := ""
	if n > 0 {
		rest = fmt.Sprintf("[0-9]{%d}", n)
	}
	lo, hi := a[0], b[0]
	var out []string
	if a[1:] != zeros {
		out = append(out, join(digit(a[0], a[0]), sameLength(a[1:], nines))...)
		lo++
	}
	var last []string
	if b[1:] != nines {
		last = join(digit(b[0], b[0]), sameLength(zeros, b[1:]))
		hi--
	}
	if lo <= hi {
		out = append(out, strings.TrimSpace(digit(lo, hi)+" "+rest))
	}
	return append(out, last...)
}

// numberRange returns the rule for a number with bounds, if it has any.
// Bounds must be integers, and a lower one non-negative, upper ones too
// when there is no lower one below zero; numbers with bounds are written
// without an exponent: integral part I, optional fraction F. Then x ≥ L
// is I ≥ L; x > L is I > L or I = L with a non-zero F; x ≤ H is I < H or
// I = H without a non-zero F; x < H is I < H.
func (c *schemaConv) numberRange(s map[string]any, path string) (string, bool, error) {
	get := func(k string) (int64, bool, error) {
		v, ok := s[k]
		if !ok {
			return 0, false, nil
		}
		n, _ := v.(json.Number)
		i, err := n.Int64()
		if err != nil || i < -maxInt16 || i > maxInt16 {
			return 0, false, &SchemaError{path, fmt.Sprintf("%q %v on a number: only integer bounds within 16 digits are supported", k, v)}
		}
		return i, true, nil
	}
	lo, hasLo, err := get("minimum")
	if err != nil {
		return "", false, err
	}
	xlo, hasXlo, err := get("exclusiveMinimum")
	if err != nil {
		return "", false, err
	}
	hi, hasHi, err := get("maximum")
	if err != nil {
		return "", false, err
	}
	xhi, hasXhi, err := get("exclusiveMaximum")
	if err != nil {
		return "", false, err
	}
	if !hasLo && !hasXlo && !hasHi && !hasXhi {
		return "", false, nil
	}
	if hasLo && lo < 0 || hasXlo && xlo < 0 || !hasLo && !hasXlo && (hasHi && hi < 0 || hasXhi && xhi <= 0) {
		return "", false, &SchemaError{path, "number bounds below zero are not supported (integers take any bounds)"}
	}
	c.prim("decimal-part")
	frac := `("." decimal-part)?`
	zeroFrac := `("." "0"{1,16})?`
	nonzeroFrac := `"." [0-9]{0,15} [1-9] [0-9]{0,15}`
	// The integral parts taken with any fraction: [a, b].
	a, b := int64(0), int64(maxInt16)
	var edges []string
	switch {
	case hasXlo:
		a = xlo + 1
		edges = append(edges, intAlternatives(xlo, xlo)+" "+nonzeroFrac)
	case hasLo:
		a = lo
	}
	switch {
	case hasXhi:
		b = xhi - 1
	case hasHi:
		b = hi - 1
		edges = append(edges, intAlternatives(hi, hi)+" "+zeroFrac)
	}
	// An edge alternative is valid only inside the other bound.
	var kept []string
	for i, e := range edges {
		ok := true
		if i == 0 && hasXlo {
			ok = !(hasXhi && xlo >= xhi) && !(hasHi && xlo >= hi)
		}
		if i == len(edges)-1 && hasHi && !hasXhi {
			ok = ok && !(hasLo && hi < lo) && !(hasXlo && hi <= xlo)
		}
		if ok {
			kept = append(kept, "("+e+")")
		}
	}
	var alts []string
	if a <= b {
		alts = append(alts, "("+intAlternatives(a, b)+") "+frac)
	}
	alts = append(alts, kept...)
	if !hasLo && !hasXlo {
		c.prim("integral-part")
		alts = append(alts, `"-" ([1-9] [0-9]{0,15} `+frac+` | "0" `+nonzeroFrac+`)`)
	}
	if len(alts) == 0 {
		return "", false, &SchemaError{path, "no number lies within the bounds"}
	}
	return "(" + strings.Join(alts, " | ") + ")", true, nil
}
