package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// devProcess is a running `falcon dev` binary.
type devProcess struct {
	cmd   *exec.Cmd
	base  string
	grpc  string
	kafka string
	logs  *bytes.Buffer
}

func buildFalcon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "falcon")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startDev(t *testing.T, bin, dataDir string) *devProcess {
	t.Helper()
	httpAddr, grpcAddr, kafkaAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
		"--kafka-addr", kafkaAddr, "--metrics-addr", testenv.FreeAddr(t), "--partitions", "4")
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, base: "http://" + httpAddr, grpc: grpcAddr, kafka: kafkaAddr, logs: logs}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("falcon dev output:\n%s", logs.String())
		}
	})
	testenv.Eventually(t, 60*time.Second, "falcon dev ready", func() bool {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("falcon dev exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("falcon dev did not stop within 30s of SIGTERM")
	}
}

// call sends a REST request as account and decodes the answer into out.
func (p *devProcess) call(t *testing.T, method, path, account string, body any, out any) int {
	t.Helper()
	code, err := p.try(method, path, account, body, out)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// try is call for goroutines other than the test's: it reports errors
// instead of failing the test.
func (p *devProcess) try(method, path, account string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if account != "" {
		req.Header.Set("X-Account-Id", account)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

type versioned struct {
	ThreadID  string `json:"threadId"`
	MessageID string `json:"messageId"`
	Version   string `json:"version"`
}

type messageList struct {
	Messages []struct {
		MessageID string `json:"messageId"`
		Body      string `json:"body"`
		SenderID  string `json:"senderId"`
	} `json:"messages"`
}

type threadList struct {
	Threads []struct {
		ThreadID     string `json:"threadId"`
		MessageCount string `json:"messageCount"`
	} `json:"threads"`
}

func (p *devProcess) mustCall(t *testing.T, method, path, account string, body, out any) {
	t.Helper()
	if code := p.call(t, method, path, account, body, out); code != 200 {
		t.Fatalf("%s %s as %s: HTTP %d", method, path, account, code)
	}
}

func bodies(l messageList) []string {
	var out []string
	for _, m := range l.Messages {
		out = append(out, m.Body)
	}
	return out
}

func TestFalconDevEndToEnd(t *testing.T) {
	testenv.SkipIfReal(t, "falcon dev embeds kfake and Pebble by design; the split-process tests run the same paths on real Kafka and HBase")
	if testing.Short() {
		t.Skip("builds and runs the falcon binary")
	}
	bin := buildFalcon(t)
	dataDir := t.TempDir()
	p := startDev(t, bin, dataDir)

	var created versioned
	p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "Launch", "memberIds": []string{"bob"}}, &created)
	tid := created.ThreadID
	var posted []versioned
	for _, body := range []string{"one", "two", "three"} {
		var v versioned
		p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": body}, &v)
		posted = append(posted, v)
	}
	var list messageList
	p.mustCall(t, "GET", "/v1/threads/"+tid+"/messages?minVersion="+posted[2].Version, "bob", nil, &list)
	if got := strings.Join(bodies(list), ","); got != "one,two,three" {
		t.Fatalf("bob lists %q, want one,two,three", got)
	}

	var edited, deleted versioned
	p.mustCall(t, "PATCH", "/v1/threads/"+tid+"/messages/"+posted[1].MessageID, "alice", map[string]any{"body": "two (edited)"}, &edited)
	p.mustCall(t, "DELETE", "/v1/threads/"+tid+"/messages/"+posted[0].MessageID, "alice", nil, &deleted)
	p.mustCall(t, "GET", "/v1/threads/"+tid+"/messages?minVersion="+deleted.Version, "bob", nil, &list)
	if got := strings.Join(bodies(list), ","); got != "two (edited),three" {
		t.Fatalf("after edit and delete bob lists %q", got)
	}
	var threads threadList
	p.mustCall(t, "GET", "/v1/threads", "bob", nil, &threads)
	if len(threads.Threads) != 1 || threads.Threads[0].ThreadID != tid || threads.Threads[0].MessageCount != "2" {
		t.Fatalf("bob's threads: %+v", threads)
	}

	refused := []struct {
		method, path, account string
		body                  any
		want                  int
	}{
		// A thread a caller cannot see answers as one that does not exist.
		{"GET", "/v1/threads/" + tid + "/messages", "carol", nil, 404},
		{"POST", "/v1/threads/" + tid + "/messages", "carol", map[string]any{"body": "let me in"}, 404},
		{"PATCH", "/v1/threads/" + tid + "/messages/" + posted[2].MessageID, "bob", map[string]any{"body": "not mine"}, 403},
		{"GET", "/v1/threads/" + tid + "/messages/" + posted[0].MessageID, "bob", nil, 404},
		{"GET", "/v1/threads/" + tid, "", nil, 401},
		{"POST", "/v1/threads", "alice", map[string]any{"title": ""}, 400},
		{"POST", "/v1/threads", "alice", map[string]any{"title": "x", "color": "red"}, 400},
		{"GET", "/v1/threads/not-an-id", "alice", nil, 400},
		{"POST", "/v1/threads", "alice", map[string]any{"title": strings.Repeat("a", 2<<20)}, 413},
		{"POST", "/v1/threads/" + tid + "/messages", "alice", map[string]any{"body": 42}, 400},
		{"DELETE", "/v1/threads/" + tid + "/messages/" + posted[0].MessageID, "alice", nil, 404},
	}
	for _, r := range refused {
		if code := p.call(t, r.method, r.path, r.account, r.body, nil); code != r.want {
			t.Errorf("%s %s as %q: HTTP %d, want %d", r.method, r.path, r.account, code, r.want)
		}
	}

	// Every event reached the legacy stand-in exactly once, in order.
	legacy := filepath.Join(dataDir, "legacy", "received.jsonl")
	testenv.Eventually(t, 20*time.Second, "6 legacy deliveries", func() bool { return len(readLegacy(t, legacy)) >= 6 })
	checkLegacy(t, readLegacy(t, legacy), 6)

	p.stop(t)
	p = startDev(t, bin, dataDir)
	p.mustCall(t, "GET", "/v1/threads/"+tid+"/messages", "bob", nil, &list)
	if got := strings.Join(bodies(list), ","); got != "two (edited),three" {
		t.Fatalf("after restart bob lists %q", got)
	}
	var again versioned
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "bob", map[string]any{"body": "four"}, &again)
	if again.Version != "7" {
		t.Fatalf("post after restart answered version %s, want 7", again.Version)
	}
	p.mustCall(t, "GET", "/v1/threads/"+tid+"/messages?minVersion=7", "alice", nil, &list)
	if got := strings.Join(bodies(list), ","); got != "two (edited),three,four" {
		t.Fatalf("after restart and post alice lists %q", got)
	}
	testenv.Eventually(t, 20*time.Second, "7 legacy deliveries", func() bool { return len(readLegacy(t, legacy)) >= 7 })
	checkLegacy(t, readLegacy(t, legacy), 7)
	p.stop(t)
}

type delivery struct {
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	ThreadID  string `json:"threadId"`
	Version   int    `json:"version"`
}

func readLegacy(t *testing.T, path string) []delivery {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []delivery
	for _, line := range completeLines(b) {
		var d delivery
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("legacy line %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

// completeLines splits b into lines, leaving out a last one without its
// newline: the legacy stand-in may be writing it while the test reads.
func completeLines(b []byte) [][]byte {
	lines := bytes.Split(b, []byte("\n"))
	return lines[:len(lines)-1]
}

// checkLegacy asserts want deliveries, each event once, each thread's
// versions 1, 2, 3... in order.
func checkLegacy(t *testing.T, ds []delivery, want int) {
	t.Helper()
	if len(ds) != want {
		t.Fatalf("legacy received %d deliveries, want %d: %+v", len(ds), want, ds)
	}
	seen := map[string]bool{}
	next := map[string]int{}
	for _, d := range ds {
		if seen[d.EventID] {
			t.Fatalf("event %s delivered twice", d.EventID)
		}
		seen[d.EventID] = true
		if next[d.ThreadID]+1 != d.Version {
			t.Fatalf("thread %s: version %d arrived after %d", d.ThreadID, d.Version, next[d.ThreadID])
		}
		next[d.ThreadID] = d.Version
	}

}
