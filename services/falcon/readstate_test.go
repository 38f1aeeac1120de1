package main_test

import (
	"strconv"
	"testing"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// readState is what ListThreads and GetThread say of the caller's reading.
type readState struct {
	ThreadID          string `json:"threadId"`
	UnreadCount       string `json:"unreadCount"`
	MentionCount      string `json:"mentionCount"`
	LastReadMessageID string `json:"lastReadMessageId"`
}

type readStateList struct {
	Threads           []readState `json:"threads"`
	TotalUnreadCount  string      `json:"totalUnreadCount"`
	TotalMentionCount string      `json:"totalMentionCount"`
}

// TestReadStateEndToEnd: through falcon dev's REST API, unread and mention
// counts follow posts, reads, deletes and one's own posts, per account and
// in total, with the mentions filter; bad MarkRead requests get their 4xx.
func TestReadStateEndToEnd(t *testing.T) {
	testenv.SkipIfReal(t, "falcon dev embeds kfake and Pebble by design; the split-process tests run the same paths on real Kafka and HBase")
	if testing.Short() {
		t.Skip("builds and runs the falcon binary")
	}
	p := startDev(t, buildFalcon(t), t.TempDir())

	var launch, other versioned
	p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "Launch", "memberIds": []string{"bob", "carol"}}, &launch)
	p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "Other", "memberIds": []string{"bob"}}, &other)
	tid := launch.ThreadID
	var msgs []versioned
	for _, m := range []map[string]any{
		{"body": "one"},
		{"body": "two, @bob", "mentionAccountIds": []string{"bob"}},
		{"body": "three"},
	} {
		var v versioned
		p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "alice", m, &v)
		msgs = append(msgs, v)
	}
	var elsewhere versioned
	p.mustCall(t, "POST", "/v1/threads/"+other.ThreadID+"/messages", "alice", map[string]any{"body": "hi @bob", "mentionAccountIds": []string{"bob"}}, &elsewhere)
	// The totals count both threads: the other one, on another partition
	// and so another batch of the updater, must be in the read model too.
	waitForVersion(t, p, other.ThreadID, atoi(t, elsewhere.Version))

	// check reads bob's state of the launch thread at version v, in the
	// list (first page, with totals) and from GetThread.
	check := func(v, unread, mentions, lastRead, totalUnread, totalMentions string) {
		t.Helper()
		waitForVersion(t, p, tid, atoi(t, v))
		var list readStateList
		p.mustCall(t, "GET", "/v1/threads", "bob", nil, &list)
		var got *readState
		for i := range list.Threads {
			if list.Threads[i].ThreadID == tid {
				got = &list.Threads[i]
			}
		}
		if got == nil || got.UnreadCount != unread || got.MentionCount != mentions || got.LastReadMessageID != lastRead {
			t.Fatalf("at version %s bob's list shows %+v; want unread %s, mentions %s, last read %q", v, got, unread, mentions, lastRead)
		}
		if list.TotalUnreadCount != totalUnread || list.TotalMentionCount != totalMentions {
			t.Fatalf("at version %s bob's totals are %s unread, %s mentions; want %s, %s", v, list.TotalUnreadCount, list.TotalMentionCount, totalUnread, totalMentions)
		}
		var one struct {
			Thread readState `json:"thread"`
		}
		p.mustCall(t, "GET", "/v1/threads/"+tid, "bob", nil, &one)
		if one.Thread.UnreadCount != unread || one.Thread.MentionCount != mentions {
			t.Fatalf("at version %s GetThread shows bob %+v; want unread %s, mentions %s", v, one.Thread, unread, mentions)
		}
	}
	check(msgs[2].Version, "3", "1", "", "4", "2")

	mentioned := func(want ...string) {
		t.Helper()
		var list readStateList
		p.mustCall(t, "GET", "/v1/threads?filter=mentions", "bob", nil, &list)
		var got []string
		for _, th := range list.Threads {
			got = append(got, th.ThreadID)
		}
		if len(got) != len(want) || len(got) > 0 && got[0] != want[0] {
			t.Fatalf("bob's threads with mentions: %v, want %v", got, want)
		}
	}
	mentioned(other.ThreadID, tid)

	// Bob reads on his phone: his laptop's stream is told (its badge
	// clears), carol's is not.
	_, laptop := openEvents(t, p.base, "bob", "")
	_, carolStream := openEvents(t, p.base, "carol", "")
	var read versioned
	p.mustCall(t, "POST", "/v1/threads/"+tid+":markRead", "bob", map[string]any{"messageId": msgs[1].MessageID}, &read)
	check(read.Version, "1", "0", msgs[1].MessageID, "2", "1")
	mentioned(other.ThreadID)
	// An older message changes nothing, and says so with the same version.
	var again versioned
	p.mustCall(t, "POST", "/v1/threads/"+tid+":markRead", "bob", map[string]any{"messageId": msgs[0].MessageID}, &again)
	if again.Version != read.Version {
		t.Fatalf("marking an older message answered version %s, want the unchanged %s", again.Version, read.Version)
	}
	if moved := until(t, laptop, "bob"); moved["readMarkerMoved"].(map[string]any)["messageId"] != msgs[1].MessageID {
		t.Fatalf("bob's other device got %v", moved)
	}
	// Carol's own marker, after bob's in the thread, reaches her, and bob's
	// never did.
	p.mustCall(t, "POST", "/v1/threads/"+tid+":markRead", "carol", map[string]any{"messageId": msgs[0].MessageID}, nil)
	until(t, carolStream, "carol")
	var deleted versioned
	p.mustCall(t, "DELETE", "/v1/threads/"+tid+"/messages/"+msgs[2].MessageID, "alice", nil, &deleted)
	check(deleted.Version, "0", "0", msgs[1].MessageID, "1", "1")
	// Bob's own post is read; carol's is not.
	var own, carols versioned
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "bob", map[string]any{"body": "mine"}, &own)
	check(own.Version, "0", "0", own.MessageID, "1", "1")
	p.mustCall(t, "POST", "/v1/threads/"+tid+"/messages", "carol", map[string]any{"body": "carol's"}, &carols)
	check(carols.Version, "1", "0", own.MessageID, "2", "1")

	var destroyed, gone versioned
	p.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "Gone", "memberIds": []string{"bob"}}, &gone)
	var last versioned
	p.mustCall(t, "POST", "/v1/threads/"+gone.ThreadID+"/messages", "alice", map[string]any{"body": "bye"}, &last)
	p.mustCall(t, "DELETE", "/v1/threads/"+gone.ThreadID, "alice", nil, &destroyed)
	refused := []struct {
		thread, account string
		body            any
		want            int
	}{
		{tid, "dave", map[string]any{"messageId": carols.MessageID}, 404},                       // not a member
		{tid, "bob", map[string]any{"messageId": "01JD0000000000000000000000"}, 404},            // no such message
		{tid, "bob", map[string]any{"messageId": elsewhere.MessageID}, 404},                     // a message of another thread
		{tid, "bob", map[string]any{"messageId": msgs[2].MessageID}, 404},                       // deleted
		{tid, "bob", map[string]any{}, 400},                                                     // no message
		{tid, "bob", map[string]any{"messageId": "nope"}, 400},                                  // malformed
		{gone.ThreadID, "bob", map[string]any{"messageId": last.MessageID}, 400},                // destroyed: FAILED_PRECONDITION
		{"01JD0000000000000000000000", "bob", map[string]any{"messageId": last.MessageID}, 404}, // no such thread
	}
	for _, r := range refused {
		if code := p.call(t, "POST", "/v1/threads/"+r.thread+":markRead", r.account, r.body, nil); code != r.want {
			t.Errorf("markRead %v in %s as %s: HTTP %d, want %d", r.body, r.thread, r.account, code, r.want)
		}
	}
	if code := p.call(t, "GET", "/v1/threads?filter=unknown", "bob", nil, nil); code != 400 {
		t.Errorf("an unknown filter: HTTP %d, want 400", code)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("version %q: %v", s, err)
	}
	return n
}

// until reads c up to the first ReadMarkerMoved, which must be account's.
func until(t *testing.T, c *sseClient, account string) map[string]any {
	t.Helper()
	for {
		m, data := c.next(t)
		if m.event != "ReadMarkerMoved" {
			continue
		}
		if data["actorId"] != account {
			t.Fatalf("%s's stream got the read marker of %v", account, data["actorId"])
		}
		return data
	}
}
