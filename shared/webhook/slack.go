package webhook

import (
	"strings"
	"unicode/utf8"
)

// Slack's limits (Block Kit): a section's text, a section field, a header, the
// fields of a section, a button's URL. slackTextLimit keeps the fallback text
// to a line.
const (
	slackSectionLimit = 3000
	slackFieldLimit   = 2000
	slackHeaderLimit  = 150
	slackMaxFields    = 10
	slackURLLimit     = 3000
	slackTextLimit    = 500
)

// slackMessage is a Slack incoming-webhook message.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackBlock is one Block Kit block: header, section or actions.
type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackText     `json:"text,omitempty"`
	Fields   []slackText    `json:"fields,omitempty"`
	Elements []slackElement `json:"elements,omitempty"`
}

// slackText is a text object, "plain_text" or "mrkdwn".
type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackElement is a link button.
type slackElement struct {
	Type     string    `json:"type"`
	Text     slackText `json:"text"`
	URL      string    `json:"url"`
	ActionID string    `json:"action_id"`
}

// slackEscape escapes the characters Slack's mrkdwn gives meaning to: &, <
// and > (links, mentions such as <!channel>, entities).
func slackEscape(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	}
	return string(r)
}

// slackMrkdwn returns s escaped for mrkdwn, within limit runes.
func slackMrkdwn(s string, limit int) string {
	return clip(s, limit, slackEscape)
}

// slackURL returns u as it may stand inside <url|text>: &, < and > as
// entities, | percent-encoded.
func slackURL(u string) string {
	var b strings.Builder
	for _, r := range u {
		if r == '|' {
			b.WriteString("%7C")
			continue
		}
		b.WriteString(slackEscape(r))
	}
	return b.String()
}

// slackMessageOf renders s as a Slack message, with a button to link
// when link is not "".
func slackMessageOf(s summary, link string) slackMessage {
	m := slackMessage{Text: slackMrkdwn(s.oneLine(), slackTextLimit)}
	m.Blocks = append(m.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: clip(s.Title, slackHeaderLimit, func(r rune) string { return string(r) })}})

	var fields []slackText
	for _, f := range s.Facts {
		if len(fields) == slackMaxFields {
			break
		}
		label := "*" + f.Label + "*\n"
		room := slackFieldLimit - utf8.RuneCountInString(label)
		text := label + slackMrkdwn(f.Value, room)
		if f.Link != "" {
			linked := label + "<" + slackURL(f.Link) + "|" + slackMrkdwn(f.Value, room) + ">"
			if utf8.RuneCountInString(linked) <= slackFieldLimit {
				text = linked
			}
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: text})
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "section", Fields: fields})

	if len(s.Resources) > 0 {
		label := "*" + s.ResourcesLabel + "*"
		if s.ResourceType != "" {
			label += " (" + slackMrkdwn(s.ResourceType, 256) + ")"
		}
		label += "\n"
		body := list(s.Resources, "• ", slackSectionLimit-utf8.RuneCountInString(label), slackEscape)
		m.Blocks = append(m.Blocks, slackSection(label+body))
	}
	if s.Justification != "" {
		m.Blocks = append(m.Blocks, slackLabelled("Justification", s.Justification))
	}
	if s.Reason != "" {
		m.Blocks = append(m.Blocks, slackLabelled(s.ReasonLabel, s.Reason))
	}
	if link != "" && utf8.RuneCountInString(link) <= slackURLLimit {
		m.Blocks = append(m.Blocks, slackBlock{Type: "actions", Elements: []slackElement{{
			Type:     "button",
			Text:     slackText{Type: "plain_text", Text: "Open in Lockbox"},
			URL:      link,
			ActionID: "lockbox-open-request",
		}}})
	}
	return m
}

// slackLabelled is a section of a bold label and user text below it.
func slackLabelled(label, text string) slackBlock {
	head := "*" + label + "*\n"
	return slackSection(head + slackMrkdwn(text, slackSectionLimit-utf8.RuneCountInString(head)))
}

func slackSection(mrkdwn string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: mrkdwn}}
}
