package main_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/legacydb"
	"github.com/falcon-chat/falcon/libs/migrate"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// TestMigrationBulkKilledResumedFollowedVerified runs the migration as an
// operator would, against falcon dev and a MariaDB of the test's own: bulk
// killed in the middle and started again, legacy writes during and after
// it, follow (killed and started again too), verify. Then it checks the
// properties: each legacy row is one event, verify finds nothing on a
// correct import and exactly the row changed behind its back, and every kind
// of bad row ended as documented.
func TestMigrationBulkKilledResumedFollowedVerified(t *testing.T) {
	db, dsn := testenv.LegacyDB(t)
	bin := buildFalcon(t)
	seed := legacydb.DefaultSeed()
	seed.Rooms, seed.Accounts, seed.Messages, seed.BadRate = 800, 1500, 40000, 0.01
	seed.Start = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	seeded, err := legacydb.Seed(testenv.Context(t, 2*time.Minute), db, seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range legacydb.BadKinds {
		if seeded.Bad[kind] == 0 {
			t.Fatalf("the seed made no %s row (%v): the test would prove nothing about it", kind, seeded.Bad)
		}
	}
	dev := startDev(t, bin, t.TempDir())
	dir := t.TempDir()
	bulkArgs := []string{"migrate", "bulk", "--legacy-dsn", dsn, "--write-api-addr", dev.grpc, "--checkpoint", filepath.Join(dir, "bulk.json"),
		"--workers", "1", "--chunk-rooms", "10", "--batch", "20"}

	// Killed once some chunks are done, with legacy writes going on.
	first := startProc(t, bin, bulkArgs...)
	testenv.Eventually(t, 60*time.Second, "bulk checkpointed a few chunks", func() bool {
		var cp struct {
			Done migrate.Runs `json:"chunks_done"`
		}
		b, _ := os.ReadFile(filepath.Join(dir, "bulk.json"))
		return json.Unmarshal(b, &cp) == nil && cp.Done.Len() >= 3
	})
	legacyWrites(t, db, 1)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	var killed struct {
		Finished bool `json:"finished"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bulk.json")); err != nil || json.Unmarshal(b, &killed) != nil || killed.Finished {
		t.Fatalf("the bulk run was not killed in the middle: %v, %+v", err, killed)
	}
	legacyWrites(t, db, 2)
	second := startProc(t, bin, bulkArgs...)
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("resumed bulk run: %v\n%s", err, second.logs.String())
	}
	if !strings.Contains(second.logs.String(), "resuming a bulk run") {
		t.Fatalf("the second run did not resume from the checkpoint:\n%s", second.logs.String())
	}

	// Follow from where bulk started: the writes during and after it. Killed
	// once it recorded a position, with writes still coming, and started
	// again: it repeats from its checkpoint what it may have half applied.
	followArgs := []string{"migrate", "follow", "--legacy-dsn", dsn, "--write-api-addr", dev.grpc,
		"--bulk-checkpoint", filepath.Join(dir, "bulk.json"), "--checkpoint", filepath.Join(dir, "follow.json")}
	follow := startProc(t, bin, followArgs...)
	testenv.Eventually(t, 60*time.Second, "follow recorded a position", func() bool {
		_, err := os.Stat(filepath.Join(dir, "follow.json"))
		return err == nil
	})
	legacyWrites(t, db, 3)
	if err := follow.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = follow.cmd.Wait()
	legacyWrites(t, db, 4)
	follow = startProc(t, bin, followArgs...)
	legacyWrites(t, db, 5)
	caughtUp(t, db, filepath.Join(dir, "follow.json"))

	reader := auditor(t, dev.grpc)
	cfg := migrate.VerifyConfig{Workers: 4, ChunkRooms: 50, Samples: 50}
	var rep migrate.VerifyReport
	testenv.Eventually(t, 60*time.Second, "verify finds legacy and Falcon equal", func() bool {
		rep, err = migrate.Verify(testenv.Context(t, time.Minute), db, reader, cfg, nil)
		return err == nil && rep.Mismatches == 0
	})
	var inLiveRooms int64
	if err := db.QueryRow("SELECT COUNT(*) FROM message m JOIN room r USING (room_id) WHERE r.deleted = 0").Scan(&inLiveRooms); err != nil {
		t.Fatal(err)
	}
	if err != nil || rep.Messages != inLiveRooms {
		t.Fatalf("verify: %v, compared %d messages; the rooms not deleted have %d", err, rep.Messages, inLiveRooms)
	}

	// Each legacy message is one post, each room one creation, whatever the
	// kill and the overlap of bulk and follow.
	posts, creates := countEvents(t, dev.kafka)
	for id, n := range posts {
		if n != 1 {
			t.Errorf("message %s was posted %d times", id, n)
		}
	}
	for id, n := range creates {
		if n != 1 {
			t.Errorf("thread %s was created %d times", id, n)
		}
	}
	rows, err := db.Query("SELECT m.message_id FROM message m JOIN room r USING (room_id) WHERE r.deleted = 0")
	if err != nil {
		t.Fatal(err)
	}
	var live int
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		live++
		if posts[domain.LegacyMessageID(id)] != 1 {
			t.Errorf("legacy message %d was posted %d times, want once", id, posts[domain.LegacyMessageID(id)])
		}
	}
	if err := rows.Close(); err != nil || live == 0 {
		t.Fatalf("legacy messages: %v (%d)", err, live)
	}

	// The bad rows, as docs/migration.md says.
	if rep.Orphans != int64(seeded.Bad[legacydb.BadMissingRoom]) || rep.DeletedRooms != int64(seeded.Bad[legacydb.BadDeletedRoom]) {
		t.Errorf("orphan messages %d, deleted rooms %d; the seed made %v", rep.Orphans, rep.DeletedRooms, seeded.Bad)
	}
	if rep.Transformed == 0 || rep.RepliesDropped == 0 {
		t.Errorf("transformed %d, replies dropped %d; the seed made %v", rep.Transformed, rep.RepliesDropped, seeded.Bad)
	}
	var broken, room uint64
	if err := db.QueryRow(`SELECT m.message_id, m.room_id FROM message m JOIN room r USING (room_id)
		WHERE m.body = ? AND m.deleted = 0 AND r.deleted = 0 LIMIT 1`, "broken \xff\xfe bytes").Scan(&broken, &room); err != nil {
		t.Fatal(err)
	}
	if m, err := getMessage(reader, room, broken); err != nil || m.Body != "broken \uFFFD bytes" {
		t.Errorf("the invalid UTF-8 body of message %d reads %q, %v; want U+FFFD for the bad bytes", broken, m.GetBody(), err)
	}

	// One character changed behind follow's back: verify finds it, and
	// only it.
	if err := follow.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = follow.cmd.Wait()
	var changed uint64
	if err := db.QueryRow(`SELECT m.message_id FROM message m JOIN room r USING (room_id)
		WHERE m.deleted = 0 AND r.deleted = 0 AND m.body LIKE 'message %' ORDER BY m.message_id LIMIT 1 OFFSET 777`).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE message SET body = CONCAT('M', SUBSTRING(body, 2)) WHERE message_id = ?", changed); err != nil {
		t.Fatal(err)
	}
	rep, err = migrate.Verify(testenv.Context(t, time.Minute), db, reader, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mismatches != 1 || len(rep.Samples) != 1 || rep.Samples[0].Message != changed || rep.Samples[0].Field != "message.body" {
		t.Fatalf("after changing message %d: %d mismatches %+v", changed, rep.Mismatches, rep.Samples)
	}
	var html strings.Builder
	if err := rep.WriteHTML(&html); err != nil || !strings.Contains(html.String(), "message.body") {
		t.Fatalf("HTML report: %v", err)
	}
}

// legacyWrites makes the legacy system's kind of writes: a new room with
// members and messages, an edit, a deletion, a member leaving and a
// promotion, a rename. round keeps each call's rows apart.
func legacyWrites(t *testing.T, db *sql.DB, round int) {
	t.Helper()
	room := uint64(800000 + round)
	msg := uint64(9000000 + 10*round)
	stmts := []string{
		"INSERT INTO room VALUES (?, 'room made during the migration', '', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 0)",
		"INSERT INTO room_member VALUES (?, 1000001, 'admin', UTC_TIMESTAMP(3)), (?, 1000002, 'member', UTC_TIMESTAMP(3))",
		"INSERT INTO message VALUES (?, ?, 1000001, 'first', NULL, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 0)",
		"INSERT INTO message VALUES (?, ?, 1000002, 'a reply', ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 0)",
		"UPDATE message SET body = CONCAT(body, ' (edited)'), updated_at = DATE_ADD(created_at, INTERVAL 1 MINUTE) WHERE message_id = ?",
		"UPDATE message SET deleted = 1, updated_at = DATE_ADD(created_at, INTERVAL 2 MINUTE) WHERE message_id = ?",
		"UPDATE room SET name = CONCAT('renamed ', room_id) WHERE room_id = ?",
		"UPDATE room_member SET role = 'admin' WHERE room_id = ? AND role = 'member' ORDER BY account_id LIMIT 1",
		"DELETE FROM room_member WHERE room_id = ? AND role = 'member' ORDER BY account_id LIMIT 1",
		"UPDATE message SET body = CONCAT(body, ' (edited)'), updated_at = DATE_ADD(updated_at, INTERVAL 1 HOUR) WHERE message_id = ?",
		"DELETE FROM message WHERE message_id = ?",
	}
	args := [][]any{{room}, {room, room}, {msg, room}, {msg + 1, room, msg}, {msg}, {msg + 1},
		{uint64(10 + round)}, {uint64(20 + round)}, {uint64(30 + round)}, {uint64(100 + round)}, {uint64(200 + round)}}
	for i, s := range stmts {
		if _, err := db.Exec(s, args[i]...); err != nil {
			t.Fatalf("legacy write %q: %v", s, err)
		}
	}
}

// caughtUp waits until follow has applied everything the binlog holds.
func caughtUp(t *testing.T, db *sql.DB, checkpoint string) {
	t.Helper()
	want, err := migrate.CurrentPosition(testenv.Context(t, 10*time.Second), db)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "follow reached "+want.File, func() bool {
		var cp struct {
			Position migrate.Position `json:"position"`
		}
		b, _ := os.ReadFile(checkpoint)
		return json.Unmarshal(b, &cp) == nil && cp.Position.File == want.File && cp.Position.Pos >= want.Pos
	})
}

// auditor is read-api as the migration account reads it.
func auditor(t *testing.T, addr string) falconv1.ThreadQueryServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, auth.AccountHeader, "migration"), method, req, reply, cc, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return falconv1.NewThreadQueryServiceClient(conn)
}

func getMessage(r falconv1.ThreadQueryServiceClient, room, message uint64) (*falconv1.Message, error) {
	res, err := r.GetMessage(context.Background(), &falconv1.GetMessageRequest{ThreadId: domain.LegacyThreadID(room), MessageId: domain.LegacyMessageID(message)})
	return res.GetMessage(), err
}

// countEvents counts, over the whole log, the posts of each message and
// the creations of each thread.
func countEvents(t *testing.T, brokers string) (posts, creates map[string]int) {
	t.Helper()
	client, err := sarama.NewClient([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := eventlog.DefaultTopic
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	posts, creates = map[string]int{}, map[string]int{}
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		err = eventlog.ReadCommitted(testenv.Context(t, time.Minute), client, topic, p, 0, end, func(r eventlog.Record) error {
			return eventlog.DecodeEvents(r.Value, func(e domain.Event, err error) error {
				if err != nil {
					return err
				}
				switch p := e.Payload.(type) {
				case domain.MessagePosted:
					posts[p.MessageID]++
				case domain.ThreadCreated:
					creates[e.ThreadID]++
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return posts, creates
}
