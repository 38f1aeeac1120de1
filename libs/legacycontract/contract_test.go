package legacycontract

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"eventId":"e1"}`)
	ts, sig := Sign(secret, now, body)
	oldTS, oldSig := Sign(secret, now.Add(-10*time.Minute), body)
	cases := []struct {
		name    string
		secret  []byte
		ts, sig string
		body    []byte
		want    error
	}{
		{"valid", secret, ts, sig, body, nil},
		{"unsigned", secret, "", "", body, ErrUnsigned},
		{"tampered body", secret, ts, sig, []byte(`{"eventId":"e2"}`), ErrBadSignature},
		{"wrong secret", []byte("other"), ts, sig, body, ErrBadSignature},
		{"moved timestamp", secret, "1800000001", sig, body, ErrBadSignature},
		{"not hex", secret, ts, "sha256=zz", body, ErrBadSignature},
		{"old delivery replayed", secret, oldTS, oldSig, body, ErrStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.secret, c.ts, c.sig, c.body, now); !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
}
