// Package migrate brings the legacy system's history into Falcon: bulk
// (the tables, in parallel, resumable), follow (the binlog, until the
// switch-over) and verify (legacy and Falcon, room by room). Everything it
// writes goes through write-api's ImportService, the threads' single
// writers (docs/migration.md).
package migrate

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/legacydb"
	"github.com/falcon-chat/falcon/libs/retry"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Importer is write-api's ImportService.
type Importer interface {
	Import(ctx context.Context, in *falconv1.ImportRequest, opts ...grpc.CallOption) (*falconv1.ImportResponse, error)
}

// MaxBatch is the most messages or members one Import call carries
// (write-api's limit).
const MaxBatch = 1000

// Tally counts what a run did, safe for concurrent use.
type Tally struct {
	Calls, Events, Rooms, Posted, Edited, Deleted, MembershipChanges atomic.Int64
	Duplicates, Transformed, RepliesDropped, Skipped, TooOld         atomic.Int64
	// Read counts the legacy rows read.
	Read atomic.Int64
	// DeletedRooms counts deleted rooms (with their rows) not imported;
	// Orphans the messages of rooms that do not exist.
	DeletedRooms, Orphans atomic.Int64

	mu sync.Mutex
	// failed holds the rooms that could not be imported, with why.
	failed  map[uint64]string
	samples []uint64
}

func (t *Tally) add(r *falconv1.ImportResponse) {
	t.Calls.Add(1)
	t.Events.Add(int64(r.Events))
	if r.Created {
		t.Rooms.Add(1)
	}
	t.Posted.Add(int64(r.Posted))
	t.Edited.Add(int64(r.Edited))
	t.Deleted.Add(int64(r.Deleted))
	t.MembershipChanges.Add(int64(r.MembershipChanges))
	t.Duplicates.Add(int64(r.Duplicates))
	t.Transformed.Add(int64(r.Transformed))
	t.RepliesDropped.Add(int64(r.RepliesDropped))
	t.Skipped.Add(int64(r.Skipped))
	t.TooOld.Add(int64(r.TooOld))
}

func (t *Tally) fail(room uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed == nil {
		t.failed = map[uint64]string{}
	}
	t.failed[room] = err.Error()
}

// orphan counts a message of a missing room, keeping a few ids to show.
func (t *Tally) orphan(id uint64) {
	t.Orphans.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.samples) < 100 {
		t.samples = append(t.samples, id)
	}
}

// Counts is a Tally as numbers, for reports and checkpoints.
type Counts struct {
	Calls             int64             `json:"calls"`
	Events            int64             `json:"events"`
	RoomsCreated      int64             `json:"rooms_created"`
	Posted            int64             `json:"messages_posted"`
	Edited            int64             `json:"messages_edited"`
	Deleted           int64             `json:"messages_deleted"`
	MembershipChanges int64             `json:"membership_changes"`
	Duplicates        int64             `json:"duplicates"`
	Transformed       int64             `json:"texts_transformed"`
	RepliesDropped    int64             `json:"replies_dropped"`
	Skipped           int64             `json:"rows_skipped"`
	TooOld            int64             `json:"changes_too_old"`
	Read              int64             `json:"rows_read"`
	DeletedRooms      int64             `json:"deleted_rooms_skipped"`
	Orphans           int64             `json:"orphan_messages"`
	OrphanSamples     []uint64          `json:"orphan_message_samples,omitempty"`
	FailedRooms       map[uint64]string `json:"failed_rooms,omitempty"`
}

// Counts returns the tally so far.
func (t *Tally) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := Counts{Calls: t.Calls.Load(), Events: t.Events.Load(), RoomsCreated: t.Rooms.Load(), Posted: t.Posted.Load(),
		Edited: t.Edited.Load(), Deleted: t.Deleted.Load(), MembershipChanges: t.MembershipChanges.Load(),
		Duplicates: t.Duplicates.Load(), Transformed: t.Transformed.Load(), RepliesDropped: t.RepliesDropped.Load(),
		Skipped: t.Skipped.Load(), TooOld: t.TooOld.Load(), Read: t.Read.Load(), DeletedRooms: t.DeletedRooms.Load(),
		Orphans: t.Orphans.Load(), OrphanSamples: append([]uint64(nil), t.samples...)}
	if len(t.failed) > 0 {
		c.FailedRooms = map[uint64]string{}
		for k, v := range t.failed {
			c.FailedRooms[k] = v
		}
	}
	return c
}

// merge adds another tally's counts to t.
func (t *Tally) merge(o *Tally) {
	c := t.Counts()
	d := o.Counts()
	c.Calls += d.Calls
	c.Events += d.Events
	c.RoomsCreated += d.RoomsCreated
	c.Posted += d.Posted
	c.Edited += d.Edited
	c.Deleted += d.Deleted
	c.MembershipChanges += d.MembershipChanges
	c.Duplicates += d.Duplicates
	c.Transformed += d.Transformed
	c.RepliesDropped += d.RepliesDropped
	c.Skipped += d.Skipped
	c.TooOld += d.TooOld
	c.Read += d.Read
	c.DeletedRooms += d.DeletedRooms
	c.Orphans += d.Orphans
	for _, id := range d.OrphanSamples {
		if len(c.OrphanSamples) < 100 {
			c.OrphanSamples = append(c.OrphanSamples, id)
		}
	}
	for k, v := range d.FailedRooms {
		if c.FailedRooms == nil {
			c.FailedRooms = map[uint64]string{}
		}
		c.FailedRooms[k] = v
	}
	t.restore(c)
}

// restore continues a tally from a checkpoint's counts.
func (t *Tally) restore(c Counts) {
	t.Calls.Store(c.Calls)
	t.Events.Store(c.Events)
	t.Rooms.Store(c.RoomsCreated)
	t.Posted.Store(c.Posted)
	t.Edited.Store(c.Edited)
	t.Deleted.Store(c.Deleted)
	t.MembershipChanges.Store(c.MembershipChanges)
	t.Duplicates.Store(c.Duplicates)
	t.Transformed.Store(c.Transformed)
	t.RepliesDropped.Store(c.RepliesDropped)
	t.Skipped.Store(c.Skipped)
	t.TooOld.Store(c.TooOld)
	t.Read.Store(c.Read)
	t.DeletedRooms.Store(c.DeletedRooms)
	t.Orphans.Store(c.Orphans)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples = append([]uint64(nil), c.OrphanSamples...)
	t.failed = map[uint64]string{}
	for k, v := range c.FailedRooms {
		t.failed[k] = v
	}
}

// sender sends Import calls, retrying what may succeed later.
type sender struct {
	imp   Importer
	tally *Tally
	// attempts bounds the tries of one call while write-api is away.
	attempts int
	// reading counts rows read, for progress (bulk).
	reading *atomic.Int64
}

// retriable says whether an Import may succeed when tried again: write-api
// was unreachable or its partition was changing owner. Imports are
// idempotent, so a retry after a lost answer appends nothing twice.
func retriable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted, codes.Internal:
		return true
	}
	return false
}

// send makes one Import call; an error is final for the room.
func (s *sender) send(ctx context.Context, r *falconv1.ImportRequest) error {
	backoff := retry.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}
	for n := 1; ; n++ {
		callCtx, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := s.imp.Import(callCtx, r)
		cancel()
		if err == nil {
			s.tally.add(res)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retriable(err) || n >= s.attempts {
			return fmt.Errorf("import of room %d: %w", r.RoomId, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff.Delay(n)):
		}
	}
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func roomProto(r legacydb.Room) *falconv1.LegacyRoom {
	return &falconv1.LegacyRoom{Name: r.Name, Description: r.Description, CreatedAt: timestamp(r.CreatedAt),
		UpdatedAt: timestamp(r.UpdatedAt), Deleted: r.Deleted}
}

func memberProto(m legacydb.Member) *falconv1.LegacyMember {
	return &falconv1.LegacyMember{AccountId: m.AccountID, Admin: m.Admin, At: timestamp(m.JoinedAt)}
}

func messageProto(m legacydb.Message) *falconv1.LegacyMessage {
	return &falconv1.LegacyMessage{MessageId: m.ID, AccountId: m.AccountID, Body: m.Body, ReplyTo: m.ReplyTo,
		CreatedAt: timestamp(m.CreatedAt), UpdatedAt: timestamp(m.UpdatedAt), Deleted: m.Deleted}
}

// account is a legacy account id as Falcon's account id: its decimal text.
func account(id uint64) string { return strconv.FormatUint(id, 10) }
