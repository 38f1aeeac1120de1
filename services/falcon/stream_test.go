package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/read-api/stream"
)

// sseMessage is one server-sent event.
type sseMessage struct {
	id, event, data string
}

// sseClient reads GET /v1/events:stream as account, the way a browser's
// EventSource does.
type sseClient struct {
	msgs   chan sseMessage
	cancel context.CancelFunc
	lastID string
}

// openEvents subscribes account at base from lastID (empty: from now). It
// returns the HTTP status and, for 200, the client.
func openEvents(t *testing.T, base, account, lastID string) (int, *sseClient) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events:stream", nil)
	if account != "" {
		req.Header.Set("X-Account-Id", account)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // the reading goroutine closes it
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		cancel()
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	c := &sseClient{msgs: make(chan sseMessage, 1024), cancel: cancel, lastID: lastID}
	t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(c.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.data != "" || m.event != "" {
					c.msgs <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return 200, c
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// next returns the next event message (not heartbeats), or fails.
func (c *sseClient) next(t *testing.T) (sseMessage, map[string]any) {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatal("the event stream ended")
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(m.data), &data); err != nil {
			t.Fatalf("event data %q: %v", m.data, err)
		}
		if m.id != "" {
			c.lastID = m.id
		}
		return m, data
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20s")
	}
	return sseMessage{}, nil
}

// quiet checks that nothing arrives for a while.
func (c *sseClient) quiet(t *testing.T) {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if ok {
			t.Fatalf("want nothing, got %s %s", m.event, m.data)
		}
	case <-time.After(500 * time.Millisecond):
	}
}

// expect takes the next events and checks their types and bodies
// ("MessagePosted:hello"; a type alone for other events).
func (c *sseClient) expect(t *testing.T, want ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, w := range want {
		m, data := c.next(t)
		got := m.event
		if mp, ok := data["messagePosted"].(map[string]any); ok {
			got += ":" + fmt.Sprint(mp["body"])
		}
		if got != w || data["cursor"] != m.id || m.id == "" {
			t.Fatalf("got event %s (id %q, cursor %v), want %s", got, m.id, data["cursor"], w)
		}
		out = append(out, data)
	}
	return out
}

// TestEventStreamEndToEnd: through falcon dev, a member sees a thread's
// events live over SSE and gRPC, from its creation up to the member's
// removal; a stranger sees nothing; what is pushed is readable with its
// version; a stream resumes after a disconnect without gap or repeat; bad
// cursors and strangers are refused; SIGTERM ends streams with a cursor.
func TestEventStreamEndToEnd(t *testing.T) {
	testenv.SkipIfReal(t, "falcon dev embeds kfake and Pebble by design")
	if testing.Short() {
		t.Skip("builds and runs the falcon binary")
	}
	p := startDev(t, buildFalcon(t), t.TempDir())

	_, bob := openEvents(t, p.base, "bob", "")
	_, carol := openEvents(t, p.base, "carol", "")
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gctx, gcancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "x-account-id", "bob"))
	defer gcancel()
	grpcStream, err := falconv1.NewThreadQueryServiceClient(conn).Subscribe(gctx, &falconv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grpcStream.Header(); err != nil {
		t.Fatal(err)
	}

	var created, hello versioned
	p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "Launch", "memberIds": []string{"bob"}}, &created)
	tid := created.ThreadID
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": "hello", "mentionAccountIds": []string{"bob"}}, &hello)
	evs := bob.expect(t, "ThreadCreated", "MessagePosted:hello")
	posted := evs[1]["messagePosted"].(map[string]any)
	if posted["messageId"] != hello.MessageID || posted["senderId"] != "alice" || evs[1]["threadId"] != tid || evs[1]["version"] != hello.Version {
		t.Fatalf("the pushed message: %v; posted %+v", evs[1], hello)
	}
	// What was pushed is readable with min_version = the pushed version.
	var got struct {
		Message struct{ Body string } `json:"message"`
	}
	p.mustCall(t, "GET", fmt.Sprintf("/v1/threads/%s/messages/%s?minVersion=%s", tid, hello.MessageID, evs[1]["version"]), "bob", nil, &got)
	if got.Message.Body != "hello" {
		t.Fatalf("bob reads %q", got.Message.Body)
	}
	for _, want := range []string{"ThreadCreated", "MessagePosted"} {
		ev, err := grpcStream.Recv()
		if err != nil || ev.Type != want || ev.ThreadId != tid {
			t.Fatalf("gRPC stream: %v %v, want %s", ev, err, want)
		}
	}

	// Disconnected, bob misses two events; resuming gives exactly those.
	bob.cancel()
	var two, three versioned
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": "two"}, &two)
	p.mustCall(t, "PATCH", "/v1/threads/"+tid+"/messages/"+hello.MessageID, "alice", map[string]any{"body": "hello!"}, &three)
	_, bob = openEvents(t, p.base, "bob", bob.lastID)
	bob.expect(t, "MessagePosted:two", "MessageEdited")

	// Removed, bob sees the removal and nothing after it.
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/members:remove", "alice", map[string]any{"accountIds": []string{"bob"}}, nil)
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": "bob is gone"}, nil)
	bob.expect(t, "MembersRemoved")
	bob.quiet(t)
	carol.quiet(t)

	for _, c := range []struct {
		name, account, cursor string
		want                  int
	}{
		{"no identity", "", "", 401},
		{"a malformed cursor", "bob", "not-a-cursor", 400},
		{"another account's cursor", "carol", bob.lastID, 400},
		{"a cursor of another topic", "bob", make(stream.Cursor, 99).Encode("bob"), 410},
	} {
		if code, _ := openEvents(t, p.base, c.account, c.cursor); code != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, code, c.want)
		}
	}

	// SIGTERM ends the stream with an "end" event carrying a cursor, and
	// does not wait for the stream's client.
	_, alice := openEvents(t, p.base, "alice", "")
	last := make(chan sseMessage, 1)
	go func() {
		var end sseMessage
		for m := range alice.msgs {
			end = m
		}
		last <- end
	}()
	p.stop(t)
	if end := <-last; end.event != "end" || end.id == "" || !strings.Contains(end.data, "UNAVAILABLE") {
		t.Fatalf("the stream's last message: %+v", end)
	}
}
