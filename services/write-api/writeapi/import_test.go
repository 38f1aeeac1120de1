package writeapi_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

func roomImport(room uint64, messages int) *falconv1.ImportRequest {
	at := timestamppb.New(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	r := &falconv1.ImportRequest{RoomId: room,
		Room:    &falconv1.LegacyRoom{Name: []byte(fmt.Sprintf("room %d", room)), CreatedAt: at, UpdatedAt: at},
		Members: []*falconv1.LegacyMember{{AccountId: 1001, Admin: true, At: at}, {AccountId: 1002, At: at}}}
	for i := range messages {
		r.Messages = append(r.Messages, &falconv1.LegacyMessage{MessageId: room*1000 + uint64(i) + 1, AccountId: 1001 + uint64(i%2),
			Body: []byte(fmt.Sprintf("message %d", i)), CreatedAt: at, UpdatedAt: at})
	}
	return r
}

func TestImportAppendsTheLegacyHistoryOnceThroughTheOwner(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	allow := func(c *writeapi.Config) { c.ImportAccounts = []string{"migration"} }
	a := startReplica(t, brokers, topic, allow)
	b := startReplica(t, brokers, topic, allow)
	testenv.Eventually(t, 60*time.Second, "both replicas own partitions", func() bool {
		return a.ready() == nil && b.ready() == nil && counter(t, a.metrics, "falcon_write_rebalances_total", nil) >= 2
	})

	refused := []struct {
		name  string
		as    string
		req   *falconv1.ImportRequest
		code  codes.Code
		field string
	}{
		{"not an import account", "alice", roomImport(1, 1), codes.PermissionDenied, ""},
		{"room id zero", "migration", roomImport(0, 1), codes.InvalidArgument, "room_id"},
		{"room id in Falcon's space", "migration", roomImport(1<<62, 1), codes.InvalidArgument, "room_id"},
		{"too many messages", "migration", roomImport(1, writeapi.MaxImportMessages+1), codes.InvalidArgument, "messages"},
		{"message id zero", "migration", func() *falconv1.ImportRequest {
			r := roomImport(1, 1)
			r.Messages[0].MessageId = 0
			return r
		}(), codes.InvalidArgument, "messages.message_id"},
	}
	for _, tc := range refused {
		_, err := a.imports.Import(as(tc.as), tc.req)
		if status.Code(err) != tc.code || tc.field != "" && fieldOf(err) != tc.field {
			t.Errorf("%s: %v, want %v on field %q", tc.name, err, tc.code, tc.field)
		}
	}
	if n := len(readAll(t, brokers, topic)); n != 0 {
		t.Fatalf("refused imports appended %d events", n)
	}

	// Sixteen rooms through each replica: half of them are the other's,
	// forwarded to their owner.
	rooms := 16
	for _, r := range []*replica{a, b} {
		for room := 1; room <= rooms; room++ {
			res, err := r.imports.Import(as("migration"), roomImport(uint64(room), 10))
			if err != nil {
				t.Fatalf("import of room %d: %v", room, err)
			}
			if r == a && (!res.Created || res.Posted != 10 || res.Events != 11 || res.ThreadId != domain.LegacyThreadID(uint64(room))) {
				t.Fatalf("first import of room %d answered %+v", room, res)
			}
			if r == b && (res.Events != 0 || res.Duplicates != 1+2+10) {
				t.Fatalf("the same rows again answered %+v, want only duplicates", res)
			}
		}
	}
	// Each import is one record: its thread's run of imported events.
	records := readAll(t, brokers, topic)
	if len(records) != rooms {
		t.Fatalf("topic holds %d records, want one a room, %d", len(records), rooms)
	}
	events := 0
	for _, r := range records {
		err := eventlog.DecodeEvents(r.Value, func(e domain.Event, err error) error {
			if err != nil || !e.Imported {
				return fmt.Errorf("event %+v, %v; want one marked imported", e, err)
			}
			events++
			return nil
		})
		if err != nil {
			t.Fatalf("record at offset %d: %v", r.Offset, err)
		}
	}
	if events != rooms*11 {
		t.Fatalf("topic holds %d events, want %d", events, rooms*11)
	}

	// A new owner knows what was imported (the bulk run restarted after a
	// crash of write-api), and the thread goes on with Falcon's own ids.
	a.stop()
	b.stop()
	c := startReplica(t, brokers, topic, allow)
	res, err := c.imports.Import(as("migration"), roomImport(3, 11))
	if err != nil || res.Posted != 1 || res.Duplicates != 1+2+10 {
		t.Fatalf("import after a restart answered %+v, %v; want the one new message", res, err)
	}
	post, err := c.client.PostMessage(as("1002"), &falconv1.PostMessageRequest{ThreadId: domain.LegacyThreadID(3), Body: "after the switch"})
	if err != nil || post.Version != res.Version+1 || post.MessageNumber < 1<<62 {
		t.Fatalf("post in an imported thread: %+v, %v", post, err)
	}
}

// fieldOf is the field a status's BadRequest detail names.
func fieldOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}
