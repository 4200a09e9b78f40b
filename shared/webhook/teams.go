package webhook

import "strings"

// The Teams message: one Adaptive Card 1.2 attachment.
const (
	teamsCardType = "application/vnd.microsoft.card.adaptive"
	cardSchema    = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion   = "1.2"
)

// Limits of user text in a card (runes, escaped): Teams refuses messages over
// about 28 KB, so the longest fields are cut well before.
const (
	teamsTextLimit = 1500
	teamsFactLimit = 600
)

// teamsMessage is a Teams incoming-webhook (or Workflows) message.
type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	Content     adaptiveCard `json:"content"`
}

// adaptiveCard is an Adaptive Card; actions are Action.OpenUrl only.
type adaptiveCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []cardElement `json:"body"`
	Actions []cardAction  `json:"actions,omitempty"`
}

// cardElement is a TextBlock or a FactSet.
type cardElement struct {
	Type      string     `json:"type"`
	Text      string     `json:"text,omitempty"`
	Size      string     `json:"size,omitempty"`
	Weight    string     `json:"weight,omitempty"`
	Wrap      bool       `json:"wrap,omitempty"`
	Spacing   string     `json:"spacing,omitempty"`
	Separator bool       `json:"separator,omitempty"`
	Facts     []cardFact `json:"facts,omitempty"`
}

type cardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type cardAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// teamsEscape backslash-escapes the characters the card's Markdown (a
// CommonMark subset) gives meaning to: emphasis, code, links and HTML. A line
// break becomes a paragraph break (Markdown joins single lines).
func teamsEscape(r rune) string {
	switch r {
	case '\\', '*', '_', '~', '`', '[', ']', '<', '>':
		return `\` + string(r)
	case '\r':
		return ""
	case '\n':
		return "\n\n"
	}
	return string(r)
}

// teamsURL makes u safe as the target of a Markdown link.
var teamsURL = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace

// teamsMessageOf renders s as a Teams message, with an OpenUrl action to
// link when link is not "".
func teamsMessageOf(s summary, link string) teamsMessage {
	card := adaptiveCard{Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion}
	card.Body = append(card.Body, cardElement{Type: "TextBlock", Text: s.Title, Size: "Medium", Weight: "Bolder", Wrap: true})

	facts := make([]cardFact, 0, len(s.Facts))
	for _, f := range s.Facts {
		value := clip(f.Value, teamsFactLimit, teamsEscape)
		if f.Link != "" {
			value = "[" + value + "](" + teamsURL(f.Link) + ")"
		}
		facts = append(facts, cardFact{Title: f.Label, Value: value})
	}
	card.Body = append(card.Body, cardElement{Type: "FactSet", Facts: facts})

	if len(s.Resources) > 0 {
		label := s.ResourcesLabel
		if s.ResourceType != "" {
			label += " (" + clip(s.ResourceType, 256, teamsEscape) + ")"
		}
		card.Body = append(card.Body, teamsLabel(label),
			cardElement{Type: "TextBlock", Text: list(s.Resources, "- ", teamsTextLimit, teamsEscape), Wrap: true, Spacing: "Small"})
	}
	if s.Justification != "" {
		card.Body = append(card.Body, teamsLabel("Justification"), teamsText(s.Justification))
	}
	if s.Reason != "" {
		card.Body = append(card.Body, teamsLabel(s.ReasonLabel), teamsText(s.Reason))
	}
	if link != "" {
		card.Actions = []cardAction{{Type: "Action.OpenUrl", Title: "Open in Lockbox", URL: link}}
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{{ContentType: teamsCardType, Content: card}}}
}

func teamsLabel(text string) cardElement {
	return cardElement{Type: "TextBlock", Text: text, Weight: "Bolder", Wrap: true, Separator: true}
}

func teamsText(user string) cardElement {
	return cardElement{Type: "TextBlock", Text: clip(user, teamsTextLimit, teamsEscape), Wrap: true, Spacing: "Small"}
}
