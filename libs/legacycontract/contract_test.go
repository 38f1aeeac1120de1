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
	ts, sig := Sign(secret, now, "e1", body)
	oldTS, oldSig := Sign(secret, now.Add(-10*time.Minute), "e1", body)
	cases := []struct {
		name         string
		secret       []byte
		ts, sig, key string
		body         []byte
		want         error
	}{
		{"valid", secret, ts, sig, "e1", body, nil},
		{"unsigned", secret, "", "", "e1", body, ErrUnsigned},
		{"tampered body", secret, ts, sig, "e1", []byte(`{"eventId":"e2"}`), ErrBadSignature},
		// A captured delivery sent again under a fresh key would be applied
		// twice by a receiver that deduplicates on the key.
		{"replayed under another idempotency key", secret, ts, sig, "e1-again", body, ErrBadSignature},
		{"wrong secret", []byte("other"), ts, sig, "e1", body, ErrBadSignature},
		{"moved timestamp", secret, "1800000001", sig, "e1", body, ErrBadSignature},
		{"not hex", secret, ts, "v2=zz", "e1", body, ErrBadSignature},
		{"the first scheme", secret, ts, "sha256=" + sig[len("v2="):], "e1", body, ErrBadSignature},
		{"old delivery replayed", secret, oldTS, oldSig, "e1", body, ErrStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.secret, c.ts, c.sig, c.key, c.body, now); !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
}
