package writeapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// forwardedHeader carries a replica's proof that it forwarded a command:
// such a command is never forwarded again. A client cannot forge it
// without the replicas' shared secret (and the REST gateway drops it).
const forwardedHeader = "x-falcon-forwarded"

// replicaTokenMaxAge bounds how old a forwarding proof may be (and how far
// in the future, for clock skew).
const replicaTokenMaxAge = time.Minute

// replicaAuth signs and checks forwarding proofs with the secret all
// write-api replicas share (--replica-secret). Without a secret it signs
// nothing and accepts nothing: forwarded commands are then treated as any
// client's.
type replicaAuth struct{ secret []byte }

func (a replicaAuth) mac(ts string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("falcon-forwarded\x00" + ts))
	return hex.EncodeToString(m.Sum(nil))
}

// token is the proof to send with a forwarded command at now.
func (a replicaAuth) token(now time.Time) string {
	if len(a.secret) == 0 {
		return ""
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return "v1." + ts + "." + a.mac(ts)
}

// verify says whether a proof is a replica's, made recently.
func (a replicaAuth) verify(token string, now time.Time) error {
	if len(a.secret) == 0 {
		return fmt.Errorf("this replica has no --replica-secret to check forwarded commands with")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return fmt.Errorf("malformed forwarding proof")
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return fmt.Errorf("malformed forwarding proof")
	}
	if age := now.Sub(time.Unix(sec, 0)); age > replicaTokenMaxAge || age < -replicaTokenMaxAge {
		return fmt.Errorf("forwarding proof of %s is outside ±%s", time.Unix(sec, 0).UTC().Format(time.RFC3339), replicaTokenMaxAge)
	}
	if !hmac.Equal([]byte(parts[2]), []byte(a.mac(parts[1]))) {
		return fmt.Errorf("forwarding proof does not verify")
	}
	return nil
}
