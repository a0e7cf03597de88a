package chat

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// filterToJSON is transformers' tojson: Python's json.dumps(x,
// ensure_ascii=False, indent=indent, sort_keys=sort_keys) with its default
// separators (", " and ": ").
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	indent := -1
	iv := params.GetKeywordArgument("indent", nil)
	if len(params.Args) > 0 {
		iv = params.Args[0]
	}
	if !iv.IsNil() {
		if !iv.IsInteger() {
			return exec.AsValue(errors.New("tojson: indent must be an integer"))
		}
		indent = iv.Integer()
	}
	sortKeys := params.GetKeywordArgument("sort_keys", false).IsTrue()
	var b strings.Builder
	if err := writeJSON(&b, in, indent, sortKeys, 0, 0); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsSafeValue(b.String())
}

func writeJSON(b *strings.Builder, v *exec.Value, indent int, sortKeys bool, level, depth int) error {
	if depth > 100 {
		return errors.New("tojson: value nested too deeply")
	}
	newline := func(l int) {
		if indent >= 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent*l))
		}
	}
	sep := ", "
	if indent >= 0 {
		sep = ","
	}
	switch {
	case v.IsNil():
		b.WriteString("null")
	case v.IsBool():
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case v.IsInteger():
		b.WriteString(strconv.Itoa(v.Integer()))
	case v.IsFloat():
		b.WriteString(pyFloat(v.Float()))
	case v.IsString():
		writeJSONString(b, v.String())
	case v.IsList():
		n := v.Len()
		if n == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			newline(level + 1)
			if err := writeJSON(b, v.Index(i), indent, sortKeys, level+1, depth+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte(']')
	case v.IsDict():
		pairs := dictPairs(v)
		if sortKeys {
			sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
		}
		if len(pairs) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				b.WriteString(sep)
			}
			newline(level + 1)
			writeJSONString(b, p.Key.String())
			b.WriteString(": ")
			if err := writeJSON(b, p.Value, indent, sortKeys, level+1, depth+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte('}')
	default:
		return fmt.Errorf("tojson: cannot serialize %s", v.String())
	}
	return nil
}

// dictPairs returns a dict's entries: in order for template literals,
// sorted by key for Go maps (whose order is not kept).
func dictPairs(v *exec.Value) []*exec.Pair {
	switch d := v.Interface().(type) {
	case *exec.Dict:
		return append([]*exec.Pair(nil), d.Pairs...)
	case exec.Dict:
		return append([]*exec.Pair(nil), d.Pairs...)
	}
	pairs := v.Items()
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
	return pairs
}

// writeJSONString quotes s as Python's json.dumps with ensure_ascii=False.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
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
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat formats f as Python's repr does.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// rangeFunction is Python's range as a list (gonja's streams through a
// goroutine that leaks when a loop breaks early).
func rangeFunction(_ *exec.Evaluator, params *exec.VarArgs) ([]int, error) {
	var start, stop, step = 0, 0, 1
	args := params.Args
	for _, a := range args {
		if !a.IsInteger() {
			return nil, errors.New("range: arguments must be integers")
		}
	}
	switch len(args) {
	case 1:
		stop = args[0].Integer()
	case 2:
		start, stop = args[0].Integer(), args[1].Integer()
	case 3:
		start, stop, step = args[0].Integer(), args[1].Integer(), args[2].Integer()
	default:
		return nil, errors.New("range: expected [start,] stop [, step]")
	}
	if step == 0 {
		return nil, errors.New("range: step must not be zero")
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == 1<<16 {
			return nil, errors.New("range: too long")
		}
		out = append(out, i)
	}
	return out, nil
}

// strftimeNow is transformers' strftime_now(format): the local time
// formatted with the common strftime directives.
func strftimeNow(_ *exec.Evaluator, params *exec.VarArgs) (string, error) {
	if len(params.Args) != 1 || !params.Args[0].IsString() {
		return "", errors.New("strftime_now: expected one format string")
	}
	return strftime(time.Now(), params.Args[0].String()), nil
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case '-':
			// %-d and friends (glibc): no padding.
			if i+1 < len(format) {
				i++
				switch format[i] {
				case 'd':
					b.WriteString(strconv.Itoa(t.Day()))
				case 'm':
					b.WriteString(strconv.Itoa(int(t.Month())))
				case 'H':
					b.WriteString(strconv.Itoa(t.Hour()))
				default:
					b.WriteString("%-" + string(format[i]))
				}
			}
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// condFunction is the target of rewriteConditionals: __cond(c, a, b) is
// a when c is true, else b.
func condFunction(_ *exec.Evaluator, params *exec.VarArgs) *exec.Value {
	if len(params.Args) != 3 {
		return exec.AsValue(nil)
	}
	if params.Args[0].IsTrue() {
		return params.Args[1]
	}
	return params.Args[2]
}

// rewriteConditionals rewrites Jinja's conditional expressions inside
// parentheses, (a if c else b), which gonja parses only at the top of an
// output tag, into __cond(c, a, b) calls (the gpt-oss template uses one).
// Both branches are evaluated, which a template cannot tell apart but for
// side effects, and Jinja expressions have none. Parentheses that hold no
// conditional and everything outside tags are left as they are.
func rewriteConditionals(src string) string {
	if !strings.Contains(src, " else ") {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(src, "{{")
		j := strings.Index(src, "{%")
		if j >= 0 && (i < 0 || j < i) {
			i = j
		}
		if i < 0 {
			b.WriteString(src)
			return b.String()
		}
		end := "}}"
		if src[i+1] == '%' {
			end = "%}"
		}
		k := strings.Index(src[i+2:], end)
		if k < 0 {
			b.WriteString(src)
			return b.String()
		}
		b.WriteString(src[:i+2])
		b.WriteString(rewriteTag(src[i+2 : i+2+k]))
		src = src[i+2+k:]
	}
}

// rewriteTag rewrites the conditional parenthesised groups of one tag's
// text, innermost first. A call's parentheses hold its arguments: with one
// argument that is a conditional it becomes f(__cond(…)); a list with
// commas is left alone.
func rewriteTag(s string) string {
	for changed := true; changed; {
		changed = false
		var stack []int
		eachCode(s, func(i int) bool {
			switch s[i] {
			case '(':
				stack = append(stack, i)
			case ')':
				if len(stack) == 0 {
					break
				}
				open := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if a, cond, alt, ok := splitConditional(s[open+1 : i]); ok {
					s = s[:open] + "(__cond(" + cond + ", " + a + ", " + alt + "))" + s[i+1:]
					changed = true
					return false
				}
			}
			return true
		})
	}
	return s
}

// eachCode calls f with the index of every byte of s outside string
// literals, until f returns false.
func eachCode(s string, f func(i int) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case !f(i):
			return
		}
	}
}

// splitConditional splits "a if c else b" at its top-level (outside
// strings and brackets) if and else; a top-level comma (a tuple or an
// argument list) is no conditional.
func splitConditional(s string) (a, cond, alt string, ok bool) {
	depth, ifAt, elseAt, comma := 0, -1, -1, false
	eachCode(s, func(i int) bool {
		switch c := s[i]; {
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case depth == 0 && c == ',':
			comma = true
			return false
		case depth == 0 && (c == ' ' || c == '\t' || c == '\n'):
			rest := s[i+1:]
			if ifAt < 0 && strings.HasPrefix(rest, "if ") {
				ifAt = i + 1
			} else if ifAt >= 0 && elseAt < 0 && strings.HasPrefix(rest, "else ") {
				elseAt = i + 1
			}
		}
		return true
	})
	if comma || ifAt < 0 || elseAt < 0 {
		return "", "", "", false
	}
	a = strings.TrimSpace(s[:ifAt])
	cond = strings.TrimSpace(s[ifAt+3 : elseAt])
	alt = strings.TrimSpace(s[elseAt+5:])
	return a, cond, alt, a != "" && cond != "" && alt != ""
}
