package main_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/testenv"
)

type postAttempt struct {
	threadID  string
	requestID string
	messageID string // empty while the outcome is unknown
	version   int
}

// TestKillDevMidStream kills falcon dev with SIGKILL while clients post,
// starts it again, retries every post whose answer was lost, and checks that
// every acknowledged message is in the read model exactly once and that the
// legacy system received every event exactly once, in per-thread order.
func TestKillDevMidStream(t *testing.T) {
	testenv.SkipIfReal(t, "falcon dev embeds kfake and Pebble by design; the split-process tests run the same paths on real Kafka and HBase")
	if testing.Short() {
		t.Skip("builds and runs the falcon binary")
	}
	bin := buildFalcon(t)
	dataDir := t.TempDir()
	p := startDev(t, bin, dataDir)

	const threads, clients = 4, 16
	var ids []string
	for i := 0; i < threads; i++ {
		var v versioned
		p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": fmt.Sprint("t", i), "memberIds": []string{"bob"}}, &v)
		ids = append(ids, v.ThreadID)
	}

	var (
		mu       sync.Mutex
		attempts []*postAttempt
		acked    atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				a := &postAttempt{threadID: ids[(c+n)%threads], requestID: ulid.Make().String()}
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
				var v versioned
				code, err := p.try("POST", "/v1/threads/"+a.threadID+"/messages", "alice",
					map[string]any{"body": a.requestID, "requestId": a.requestID}, &v)
				if err != nil || code != 200 {
					return // the process is gone; the outcome stays unknown
				}
				a.messageID = v.MessageID
				a.version, _ = strconv.Atoi(v.Version)
				acked.Add(1)
			}
		}()
	}
	testenv.Eventually(t, 60*time.Second, "300 acknowledged posts", func() bool { return acked.Load() >= 300 })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	stop.Store(true)
	wg.Wait()

	p = startDev(t, bin, dataDir)
	unknown := 0
	for _, a := range attempts {
		if a.messageID != "" {
			continue
		}
		unknown++
		var v versioned
		p.mustCall(t, "POST", "/v1/threads/"+a.threadID+"/messages", "alice",
			map[string]any{"body": a.requestID, "requestId": a.requestID}, &v)
		a.messageID = v.MessageID
		a.version, _ = strconv.Atoi(v.Version)
	}
	t.Logf("%d posts acknowledged before the kill, %d retried after it", acked.Load(), unknown)

	want := map[string]map[string]bool{}
	maxVersion := map[string]int{}
	for _, a := range attempts {
		if want[a.threadID] == nil {
			want[a.threadID] = map[string]bool{}
		}
		if want[a.threadID][a.messageID] {
			t.Fatalf("two requests were answered with message %s", a.messageID)
		}
		want[a.threadID][a.messageID] = true
		maxVersion[a.threadID] = max(maxVersion[a.threadID], a.version)
	}
	total := 0
	for _, tid := range ids {
		got := checkListed(t, p, tid, maxVersion[tid], want[tid])
		if maxVersion[tid] != len(got)+1 {
			t.Fatalf("thread %s is at version %d with %d messages: versions are not contiguous", tid, maxVersion[tid], len(got))
		}
		total += len(got) + 1
	}
	legacy := filepath.Join(dataDir, "legacy", "received.jsonl")
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("%d legacy deliveries", total), func() bool { return len(readLegacy(t, legacy)) >= total })
	checkLegacy(t, readLegacy(t, legacy), total)
	p.stop(t)
}

// listAll pages through a thread's messages, oldest first.
func listAll(t *testing.T, p *devProcess, threadID string, minVersion int) []string {
	t.Helper()
	var out []string
	token := ""
	for {
		var page struct {
			Messages []struct {
				MessageID string `json:"messageId"`
			} `json:"messages"`
			NextPageToken string `json:"nextPageToken"`
		}
		p.mustCall(t, "GET", fmt.Sprintf("/v1/threads/%s/messages?pageSize=200&minVersion=%d&pageToken=%s", threadID, minVersion, token), "bob", nil, &page)
		for _, m := range page.Messages {
			out = append(out, m.MessageID)
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	if !sort.StringsAreSorted(out) {
		t.Fatalf("thread %s: messages are not in id order", threadID)
	}
	return out
}

// waitForVersion waits until the read model has a thread's version. After a
// crash that can take up to write-api's transaction timeout (10 s): the
// embedded broker may not have recorded that the killed writer had a
// transaction open, so instead of aborting it when the new writer fences
// the old one, it expires it, and until then it holds back read_committed
// consumers, as Kafka does with any dead writer's open transaction.
func waitForVersion(t *testing.T, p *devProcess, threadID string, version int) {
	t.Helper()
	testenv.Eventually(t, 45*time.Second, fmt.Sprintf("thread %s at version %d in the read model", threadID, version), func() bool {
		code := p.call(t, "GET", fmt.Sprintf("/v1/threads/%s?minVersion=%d", threadID, version), "bob", nil, nil)
		if code != 200 && code != 503 {
			t.Fatalf("GET thread %s: HTTP %d", threadID, code)
		}
		return code == 200
	})
}

// checkListed waits for a thread's version in the read model and checks that
// it lists exactly the acknowledged messages, each once; it returns them.
func checkListed(t *testing.T, p *devProcess, threadID string, version int, acked map[string]bool) []string {
	t.Helper()
	waitForVersion(t, p, threadID, version)
	got := listAll(t, p, threadID, version)
	if len(got) != len(acked) {
		t.Fatalf("thread %s: %s lists %d messages, %d were acknowledged", threadID, p.base, len(got), len(acked))
	}
	for _, m := range got {
		if !acked[m] {
			t.Fatalf("thread %s: %s lists %s, which no post was answered with", threadID, p.base, m)
		}
	}
	return got
}
