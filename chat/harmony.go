package chat

import (
	"encoding/json"
	"strings"
)

// Harmony is the response format of OpenAI's gpt-oss models: an assistant
// turn is a sequence of messages, each a header and a body,
//
//	<|channel|>analysis<|message|>reasoning…<|end|>
//	<|start|>assistant<|channel|>final<|message|>answer…<|return|>
//	<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>
//
// (the first header follows the generation prompt's <|start|>assistant).
// The analysis channel is the model's reasoning, final (and commentary
// addressed to no one) is the reply, and a message addressed to
// functions.NAME is a call of tool NAME with the body as its arguments.

// harmony's special tokens, as text.
const (
	hStart     = "<|start|>"
	hChannel   = "<|channel|>"
	hMessage   = "<|message|>"
	hEnd       = "<|end|>"
	hReturn    = "<|return|>"
	hCall      = "<|call|>"
	hConstrain = "<|constrain|>"
)

var harmonyMarkers = []string{hStart, hChannel, hMessage, hEnd, hReturn, hCall, hConstrain}

// IsHarmony says whether a chat template renders the harmony format.
func IsHarmony(templateSource string) bool {
	return strings.Contains(templateSource, hChannel) && strings.Contains(templateSource, hMessage) && strings.Contains(templateSource, hStart)
}

// HarmonyReply is a harmony turn split by channel.
type HarmonyReply struct {
	Reasoning string // the analysis channel
	Content   string // the final channel and unaddressed commentary
	ToolCalls []ToolCall
}

// harmonyPart is where a message's body goes.
type harmonyPart int

const (
	partDrop harmonyPart = iota // addressed to a recipient other than a function
	partReasoning
	partContent
	partCall
)

// harmonyKind classifies a message by its header.
func harmonyKind(channel, recipient string) harmonyPart {
	switch {
	case strings.HasPrefix(recipient, "functions."):
		return partCall
	case recipient != "":
		return partDrop
	case channel == "analysis":
		return partReasoning
	}
	return partContent
}

// ParseHarmony splits generated harmony text (what follows the generation
// prompt) into reasoning, content and tool calls. Text without harmony
// markup is all content. A message cut off by the end of generation keeps
// what it has. Calls of tools that are not in tools stay out of
// ToolCalls (a nil tools accepts every name).
func ParseHarmony(text string, tools []Tool) HarmonyReply {
	var r HarmonyReply
	parseHarmony(text, false, func(m harmonyMessage) {
		switch harmonyKind(m.channel, m.recipient) {
		case partCall:
			name := strings.TrimPrefix(m.recipient, "functions.")
			if !knownTool(tools, name) {
				return
			}
			args := strings.TrimSpace(m.body)
			if !json.Valid([]byte(args)) {
				b, _ := json.Marshal(args)
				args = string(b)
			}
			r.ToolCalls = append(r.ToolCalls, ToolCall{Name: name, Arguments: args})
		case partReasoning:
			r.Reasoning += m.body
		case partContent:
			r.Content += m.body
		}
	})
	return r
}

func knownTool(tools []Tool, name string) bool {
	if tools == nil {
		return name != ""
	}
	for _, t := range tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// harmonyMessage is one message of a harmony reply: its header, its body
// and, when it is finished (a terminator or the next <|start|> follows),
// the offset just past it.
type harmonyMessage struct {
	channel, recipient, body string
	done                     bool
	end                      int
}

// parseHarmony calls f for each message of text in order. With partial
// set, text is a prefix of the output: an unfinished marker at its end is
// left out (it may yet become one), and a message still being written is
// reported as it stands, not done.
func parseHarmony(text string, partial bool, f func(harmonyMessage)) {
	if partial {
		text = text[:len(text)-partialMarker(text)]
	}
	if !strings.Contains(text, hMessage) && !strings.Contains(text, hChannel) && !strings.Contains(text, hStart) {
		// Plain text: the model wrote no harmony markup.
		f(harmonyMessage{channel: "final", body: text, done: !partial, end: len(text)})
		return
	}
	at := 0
	for at < len(text) {
		start := at
		if strings.HasPrefix(text[at:], hStart) {
			start += len(hStart)
		}
		m := strings.Index(text[start:], hMessage)
		if m < 0 {
			return // a header without a body yet
		}
		channel, recipient := harmonyHeader(text[start : start+m])
		bodyAt := start + m + len(hMessage)
		body := text[bodyAt:]
		end, next, done := len(body), len(body), false
		for _, stop := range []string{hEnd, hReturn, hCall, hStart} {
			if i := strings.Index(body, stop); i >= 0 && i < end {
				end, next, done = i, i+len(stop), true
				if stop == hStart {
					next = i
				}
			}
		}
		f(harmonyMessage{channel: channel, recipient: recipient, body: body[:end], done: done || !partial, end: bodyAt + next})
		at = bodyAt + next
	}
}

// harmonyHeader reads a message header: an optional role, then
// <|channel|>NAME, a recipient (to=…, before or after the channel) and a
// content type (json or <|constrain|>json), in any order.
func harmonyHeader(h string) (channel, recipient string) {
	h = strings.ReplaceAll(h, hConstrain, " ")
	if i := strings.Index(h, hChannel); i >= 0 {
		rest := strings.TrimLeft(h[i+len(hChannel):], " ")
		j := strings.IndexAny(rest, " <")
		if j < 0 {
			j = len(rest)
		}
		channel = rest[:j]
		h = h[:i] + " " + rest[j:]
	}
	for _, w := range strings.Fields(h) {
		if strings.HasPrefix(w, "to=") {
			recipient = strings.TrimPrefix(w, "to=")
		}
	}
	return channel, recipient
}

// partialMarker is the length of the longest suffix of text that is a
// proper prefix of a harmony marker.
func partialMarker(text string) int {
	best := 0
	for _, m := range harmonyMarkers {
		for n := min(len(m)-1, len(text)); n > best; n-- {
			if strings.HasSuffix(text, m[:n]) {
				best = n
				break
			}
		}
	}
	return best
}

// HarmonyStream turns streamed harmony text into reasoning and content
// deltas: Push takes the next piece of text and returns what it adds to
// each (an unfinished marker is held back until it is complete); tool
// calls come whole from Finish. Each Push reads only the message still
// being written: finished ones are behind it.
type HarmonyStream struct {
	buf  strings.Builder
	from int // offset of the first unfinished message
	sent int // bytes of that message's body already returned
	// reasoning and content are the lengths of what Push returned.
	reasoning, content int
}

// Push adds text and returns the new reasoning and content.
func (s *HarmonyStream) Push(text string) (reasoning, content string) {
	s.buf.WriteString(text)
	full := s.buf.String()
	first := true
	parseHarmony(full[s.from:], true, func(m harmonyMessage) {
		body := m.body
		if first && s.sent <= len(body) {
			body = body[s.sent:]
		}
		first = false
		switch harmonyKind(m.channel, m.recipient) {
		case partReasoning:
			reasoning += body
		case partContent:
			content += body
		}
		if m.done {
			s.from += m.end
			s.sent = 0
			first = true
		} else {
			s.sent = len(m.body)
		}
	})
	s.reasoning += len(reasoning)
	s.content += len(content)
	return reasoning, content
}

// Finish parses the whole text: it returns what Push has not returned
// yet (a held-back tail that was no marker after all) and the tool calls.
func (s *HarmonyStream) Finish(tools []Tool) (reasoning, content string, calls []ToolCall) {
	r := ParseHarmony(s.buf.String(), tools)
	if len(r.Reasoning) > s.reasoning {
		reasoning = r.Reasoning[s.reasoning:]
	}
	if len(r.Content) > s.content {
		content = r.Content[s.content:]
	}
	return reasoning, content, r.ToolCalls
}
