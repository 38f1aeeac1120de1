package legacysim

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/legacycontract"
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

func TestFaultsAndSignatures(t *testing.T) {
	secret := []byte("k")
	signed := func(body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", body)
		ts, sig := legacycontract.Sign(secret, time.Now(), body, []byte(body))
		req.Header.Set(legacycontract.HeaderTimestamp, ts)
		req.Header.Set(legacycontract.HeaderSignature, sig)
		return req
	}
	cases := []struct {
		name string
		opts Options
		req  func() *http.Request
		want int
	}{
		{"signed", Options{Secret: secret}, func() *http.Request { return signed(`{"eventId":"a"}`) }, 200},
		{"unsigned refused", Options{Secret: secret}, func() *http.Request {
			r := signed(`{"eventId":"b"}`)
			r.Header.Del(legacycontract.HeaderSignature)
			return r
		}, 401},
		{"down", Options{Faults: Faults{DownFor: time.Hour}}, func() *http.Request { return signed(`{"eventId":"c"}`) }, 503},
		{"always failing", Options{Faults: Faults{FailRate: 1, FailStatus: 500}}, func() *http.Request { return signed(`{"eventId":"d"}`) }, 500},
		{"rejected type", Options{Faults: Faults{RejectTypes: []string{"MessagePosted"}}}, func() *http.Request {
			return signed(`{"eventId":"e","eventType":"MessagePosted"}`)
		}, 422},
		{"other type passes", Options{Faults: Faults{RejectTypes: []string{"MessagePosted"}}}, func() *http.Request {
			return signed(`{"eventId":"f","eventType":"ThreadCreated"}`)
		}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := OpenWith(filepath.Join(t.TempDir(), "out.jsonl"), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, c.req())
			if rec.Code != c.want {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, c.want)
			}
		})
	}
}
