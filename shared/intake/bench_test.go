package intake

import "testing"

// BenchmarkJiraDelivery verifies and maps the jira-created fixture: the
// pure part of an intake call, before the store.
func BenchmarkJiraDelivery(b *testing.B) {
	s := exampleSource(b, "jira")
	body := fixture(b, "jira-created")
	h := s.Sign(body, fixtureNow)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := s.Verify(h, body, fixtureNow)
		if err != nil {
			b.Fatal(err)
		}
		o, err := s.Route(body)
		if err != nil || o.Do != DoCreate {
			b.Fatal(o, err)
		}
		_ = o.Key(s.Name, d)
	}
}
