package intake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// fixtureZendeskWebhook is the webhook id the fixtures' Zendesk deliveries
// name (Zendesk's ids are ULIDs).
const fixtureZendeskWebhook = "01HZX4LOCKB0X1NTAKE0F1XTRE"

// Sign returns the headers the source's vendor would send with body at
// now, signed with the source's first secret: the signature, the delivery
// id and the content type. It is for fixtures and tests (lockboxctl
// send-fixture); Lockbox itself never signs a vendor's delivery. The
// delivery id is derived from the body, so the same fixture sent twice is
// a re-delivery.
func (s *Source) Sign(body []byte, now time.Time) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if len(s.secrets) == 0 {
		return h
	}
	key := s.secrets[0]
	switch s.Kind {
	case KindJira:
		h.Set("User-Agent", "Atlassian Webhook HTTP Client")
		h.Set(HeaderJiraSignature, hexPrefix+hex.EncodeToString(sum(key, body)))
		h.Set(HeaderJiraDelivery, fixtureUUID(s.Kind, body))
	case KindGitHub:
		h.Set("User-Agent", "GitHub-Hookshot/lockbox-fixture")
		h.Set(HeaderGitHubEvent, "issues")
		h.Set(HeaderGitHubSignature, hexPrefix+hex.EncodeToString(sum(key, body)))
		h.Set(HeaderGitHubDelivery, fixtureUUID(s.Kind, body))
	case KindZendesk:
		ts := now.UTC().Format(time.RFC3339)
		h.Set(HeaderZendeskSignature, base64.StdEncoding.EncodeToString(sum(key, []byte(ts), body)))
		h.Set(HeaderZendeskTimestamp, ts)
		h.Set(HeaderZendeskWebhook, fixtureZendeskWebhook)
		h.Set(HeaderZendeskInvocation, fixtureNumber(s.Kind, body))
	case KindServiceNow:
		s.signServiceNow(h, key, body)
	}
	return h
}

func (s *Source) signServiceNow(h http.Header, key secret, body []byte) {
	sn := s.ServiceNow
	if sn == nil {
		sn = &ServiceNow{Auth: AuthHMAC}
	}
	if sn.Auth == AuthBasic {
		h.Set(headerAuthorization, "Basic "+base64.StdEncoding.EncodeToString([]byte(sn.Username+":"+string(key))))
	} else {
		header := sn.Header
		if header == "" {
			header = DefaultServiceNowHeader
		}
		h.Set(header, base64.StdEncoding.EncodeToString(sum(key, body)))
	}
	if sn.DeliveryHeader != "" {
		h.Set(sn.DeliveryHeader, fixtureUUID(s.Kind, body))
	}
}

// SignFixture returns the headers a vendor of kind would send with body at
// now, signed with secret (a ServiceNow delivery by HMAC in
// DefaultServiceNowHeader). See Source.Sign, which also covers a
// ServiceNow source's basic auth and delivery header.
func SignFixture(kind Kind, secretText string, body []byte, now time.Time) http.Header {
	s := &Source{Kind: kind, secrets: []secret{secret(secretText)}}
	return s.Sign(body, now)
}

// fixtureDigest is a digest of a fixture's kind and body.
func fixtureDigest(kind Kind, body []byte) [sha256.Size]byte {
	return sha256.Sum256(append([]byte("lockbox-intake fixture\x00"+string(kind)+"\x00"), body...))
}

// fixtureUUID is a version-4-shaped UUID derived from a fixture.
func fixtureUUID(kind Kind, body []byte) string {
	b := fixtureDigest(kind, body)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// fixtureNumber is a 10-digit id derived from a fixture (Zendesk's
// invocation ids are numbers).
func fixtureNumber(kind Kind, body []byte) string {
	b := fixtureDigest(kind, body)
	return strconv.FormatUint(1_000_000_000+binary.BigEndian.Uint64(b[:8])%9_000_000_000, 10)
}
