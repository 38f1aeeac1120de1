package eventlog

import (
	"testing"

	"github.com/IBM/sarama"
)

// TestFetchesOpenNoFetchSession: the followers' and replays' fetches are
// full fetches outside KIP-227's sessions (epoch -1). With the field left
// at 0 every fetch opened a session on the broker, filling its session
// cache and making each later fetch evict one.
func TestFetchesOpenNoFetchSession(t *testing.T) {
	req := fetchRequest("events", map[int32]int64{0: 5, 3: 7}, 100)
	if req.SessionID != 0 || req.SessionEpoch != -1 {
		t.Fatalf("fetch session id %d epoch %d, want 0 and -1 (no session)", req.SessionID, req.SessionEpoch)
	}
	if req.Isolation != sarama.ReadCommitted {
		t.Fatalf("fetch isolation %v, want read_committed", req.Isolation)
	}
}
