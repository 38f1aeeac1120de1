package legacysim

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeduplicatesAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "legacy", "received.jsonl")
	post := func(s *Sim, key, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, body string
		want      int
	}{
		{"e1", `{"eventId":"e1"}`, 200},
		{"e1", `{"eventId":"e1"}`, 200},
		{"", `{"eventId":"e2"}`, 400},
		{"e3", `not json`, 400},
		{"e2", `{"eventId":"e2"}`, 200},
	}
	for _, c := range cases {
		if got := post(s, c.key, c.body); got != c.want {
			t.Errorf("POST %q %s: %d, want %d", c.key, c.body, got, c.want)
		}
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post(s, "e1", `{"eventId":"e1"}`)
	b, _ := os.ReadFile(path)
	if got := strings.Count(string(b), "\n"); got != 2 {
		t.Fatalf("file has %d lines, want 2:\n%s", got, b)
	}
}
