package writeapi

import (
	"strings"
	"testing"
	"time"
)

// TestForwardingProofCannotBeForged: only a replica holding the secret can
// mark a command as forwarded; a client's marker (the header set by hand,
// an old proof replayed, one made with another secret) is ignored.
func TestForwardingProofCannotBeForged(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := replicaAuth{secret: []byte("shared")}
	good := a.token(now)
	cases := []struct {
		name  string
		auth  replicaAuth
		token string
		at    time.Time
		ok    bool
	}{
		{"a replica's proof", a, good, now, true},
		{"the same proof 30 s later", a, good, now.Add(30 * time.Second), true},
		{"a client's plain marker", a, "1", now, false},
		{"a proof replayed 2 min later", a, good, now.Add(2 * time.Minute), false},
		{"a proof from the future", a, a.token(now.Add(5 * time.Minute)), now, false},
		{"a proof made with another secret", a, replicaAuth{secret: []byte("guess")}.token(now), now, false},
		{"a tampered timestamp", a, strings.Replace(good, "1800000000", "1800000001", 1), now, false},
		{"a replica without a secret", replicaAuth{}, good, now, false},
	}
	for _, c := range cases {
		if err := c.auth.verify(c.token, c.at); (err == nil) != c.ok {
			t.Errorf("%s: verify = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	if (replicaAuth{}).token(now) != "" {
		t.Error("a replica without a secret signs proofs")
	}
}
