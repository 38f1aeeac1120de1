package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/legacydb"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Reader is read-api's ThreadQueryService as verify reads it, as an
// account of read-api's --audit-accounts.
type Reader interface {
	GetThread(ctx context.Context, in *falconv1.GetThreadRequest, opts ...grpc.CallOption) (*falconv1.GetThreadResponse, error)
	ListMessages(ctx context.Context, in *falconv1.ListMessagesRequest, opts ...grpc.CallOption) (*falconv1.ListMessagesResponse, error)
}

// VerifyConfig shapes a verify run.
type VerifyConfig struct {
	// Workers compare chunks of rooms in parallel.
	Workers    int
	ChunkRooms uint64
	// Samples bounds the mismatches the report lists (all are counted).
	Samples int
}

// Mismatch is one difference between legacy and Falcon.
type Mismatch struct {
	Room    uint64 `json:"room_id"`
	Message uint64 `json:"message_id,omitempty"`
	Account uint64 `json:"account_id,omitempty"`
	Field   string `json:"field"`
	Legacy  string `json:"legacy"`
	Falcon  string `json:"falcon"`
}

// VerifyReport is what verify found.
type VerifyReport struct {
	Started  time.Time     `json:"started"`
	Took     time.Duration `json:"took_ns"`
	Rooms    int64         `json:"rooms_compared"`
	Members  int64         `json:"members_compared"`
	Messages int64         `json:"messages_compared"`
	// Mismatches counts every difference; ByField by what differs;
	// Samples lists the first of them, in room order.
	Mismatches int64            `json:"mismatches"`
	ByField    map[string]int64 `json:"mismatches_by_field"`
	Samples    []Mismatch       `json:"samples"`
	// What the migration documents it does not import as it is, and that
	// verify therefore expects (docs/migration.md).
	DeletedRooms   int64 `json:"deleted_rooms"`
	Orphans        int64 `json:"orphan_messages"`
	Transformed    int64 `json:"texts_transformed"`
	RepliesDropped int64 `json:"replies_to_missing_messages"`
}

// verifier compares rooms, collecting what it finds.
type verifier struct {
	read    Reader
	samples int

	rooms, members, messages           atomic.Int64
	deletedRooms, orphans, transformed atomic.Int64
	repliesDropped, mismatches         atomic.Int64
	mu                                 sync.Mutex
	byField                            map[string]int64
	found                              []Mismatch
}

func (v *verifier) mismatch(m Mismatch) {
	v.mismatches.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byField[m.Field]++
	v.found = append(v.found, m)
	// Keep the first in room order, bounded: sort and cut now and then.
	if len(v.found) >= 2*v.samples+64 {
		sortMismatches(v.found)
		v.found = v.found[:v.samples]
	}
}

func sortMismatches(ms []Mismatch) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Room != b.Room {
			return a.Room < b.Room
		}
		return a.Message < b.Message
	})
}

// Verify compares the legacy database with Falcon room by room and column
// by column: room names and descriptions as imported (ImportTitle,
// ImportText), members and roles, and every message's body, author,
// timestamps, reply link and deletion. Chunks of rooms are compared in
// parallel; the memory of one comparison is that of one room's messages.
func Verify(ctx context.Context, db *sql.DB, read Reader, cfg VerifyConfig, progress func(done, total int64)) (VerifyReport, error) {
	rep := VerifyReport{Started: time.Now().UTC()}
	if cfg.Workers < 1 || cfg.ChunkRooms < 1 {
		return rep, errors.New("--workers and --chunk-rooms must be at least 1")
	}
	lo, hi, err := legacydb.Span(ctx, db)
	if err != nil {
		return rep, err
	}
	total, err := legacydb.Count(ctx, db, "message")
	if err != nil {
		return rep, err
	}
	cp := checkpoint{Lo: lo, Hi: hi, ChunkRooms: cfg.ChunkRooms}
	v := &verifier{read: read, samples: cfg.Samples, byField: map[string]int64{}}
	todo := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(todo)
		for c := range cp.chunks() {
			select {
			case todo <- c:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	var done atomic.Int64
	for range cfg.Workers {
		g.Go(func() error {
			for c := range todo {
				lo, hi := cp.chunk(c)
				if err := v.chunk(gctx, db, lo, hi, &done); err != nil {
					return err
				}
				if progress != nil {
					progress(done.Load(), total)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	rep.Took = time.Since(rep.Started)
	rep.Rooms, rep.Members, rep.Messages = v.rooms.Load(), v.members.Load(), v.messages.Load()
	rep.Mismatches, rep.ByField = v.mismatches.Load(), v.byField
	rep.DeletedRooms, rep.Orphans = v.deletedRooms.Load(), v.orphans.Load()
	rep.Transformed, rep.RepliesDropped = v.transformed.Load(), v.repliesDropped.Load()
	sortMismatches(v.found)
	rep.Samples = v.found[:min(len(v.found), cfg.Samples)]
	return rep, err
}

// chunk compares the rooms of [lo, hi].
func (v *verifier) chunk(ctx context.Context, db *sql.DB, lo, hi uint64, read *atomic.Int64) error {
	rooms, err := legacydb.Rooms(ctx, db, lo, hi)
	if err != nil {
		return err
	}
	members, err := legacydb.Members(ctx, db, lo, hi)
	if err != nil {
		return err
	}
	byRoom := map[uint64][]legacydb.Member{}
	for _, m := range members {
		byRoom[m.RoomID] = append(byRoom[m.RoomID], m)
	}
	index := map[uint64]int{}
	for i, r := range rooms {
		index[r.ID] = i
	}
	compared := make([]bool, len(rooms))
	var (
		room    *roomCheck
		cur     uint64
		started bool
		orphan  bool
	)
	finish := func() error {
		if room == nil {
			return nil
		}
		err := room.finish(ctx)
		room = nil
		return err
	}
	err = legacydb.EachMessage(ctx, db, lo, hi, func(m legacydb.Message) error {
		read.Add(1)
		if !started || m.RoomID != cur {
			if err := finish(); err != nil {
				return err
			}
			started, cur = true, m.RoomID
			i, ok := index[m.RoomID]
			orphan = !ok
			if ok {
				compared[i] = true
				var err error
				if room, err = v.open(ctx, rooms[i], byRoom[m.RoomID]); err != nil {
					return err
				}
			}
		}
		switch {
		case orphan:
			v.orphans.Add(1)
		case room != nil:
			room.message(m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	for i, r := range rooms {
		if compared[i] {
			continue
		}
		rc, err := v.open(ctx, r, byRoom[r.ID])
		if err != nil {
			return err
		}
		if rc != nil {
			if err := rc.finish(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// roomCheck compares one room: the room and members at open, the
// messages as the legacy ones stream by, and what Falcon has beyond them
// at finish.
type roomCheck struct {
	v      *verifier
	id     uint64
	falcon map[uint64]*falconv1.Message
	// seen is the legacy ids of the room's messages so far: a reply to one
	// of them keeps its link.
	seen map[uint64]struct{}
}

// open compares the room and its members and loads Falcon's messages of
// it; nil for a room with nothing more to compare (deleted, or missing in
// Falcon).
func (v *verifier) open(ctx context.Context, r legacydb.Room, members []legacydb.Member) (*roomCheck, error) {
	v.rooms.Add(1)
	tid := domain.LegacyThreadID(r.ID)
	got, err := v.read.GetThread(ctx, &falconv1.GetThreadRequest{ThreadId: tid})
	if status.Code(err) == codes.NotFound {
		if r.Deleted {
			v.deletedRooms.Add(1)
			return nil, nil
		}
		v.mismatch(Mismatch{Room: r.ID, Field: "room", Legacy: "exists", Falcon: "missing"})
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("room %d: %w", r.ID, err)
	}
	if r.Deleted {
		v.mismatch(Mismatch{Room: r.ID, Field: "room.deleted", Legacy: "deleted", Falcon: "readable"})
		return nil, nil
	}
	t := got.Thread
	title, changedTitle := domain.ImportTitle(string(r.Name), r.ID)
	remarks, changedRemarks := domain.ImportText(string(r.Description))
	for _, c := range []bool{changedTitle, changedRemarks} {
		if c {
			v.transformed.Add(1)
		}
	}
	v.compare(r.ID, 0, "room.name", title, t.Title)
	v.compare(r.ID, 0, "room.description", remarks, t.Remarks)
	v.compare(r.ID, 0, "room.created_at", stamp(r.CreatedAt), stampOf(t.CreatedAt))
	v.compare(r.ID, 0, "room.room_id", fmt.Sprint(r.ID), fmt.Sprint(t.ThreadNumber))
	v.members.Add(int64(len(members)))
	role := map[string]string{}
	for _, m := range members {
		role[account(m.AccountID)] = roleName(m.Admin)
	}
	falcon := map[string]string{}
	for _, a := range t.MemberIds {
		falcon[a] = "member"
	}
	for _, a := range t.AdministratorIds {
		falcon[a] = "admin"
	}
	for _, a := range sortedUnion(role, falcon) {
		if role[a] != falcon[a] {
			id, _ := parseAccount(a)
			v.mismatch(Mismatch{Room: r.ID, Account: id, Field: "member.role", Legacy: orAbsent(role[a]), Falcon: orAbsent(falcon[a])})
		}
	}
	rc := &roomCheck{v: v, id: r.ID, falcon: map[uint64]*falconv1.Message{}, seen: map[uint64]struct{}{}}
	req := &falconv1.ListMessagesRequest{ThreadId: tid, PageSize: 200, Order: falconv1.MessageOrder_MESSAGE_ORDER_OLDEST_FIRST}
	for {
		page, err := v.read.ListMessages(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("messages of room %d: %w", r.ID, err)
		}
		for _, m := range page.Messages {
			rc.falcon[m.MessageNumber] = m
		}
		if page.NextPageToken == "" {
			return rc, nil
		}
		req.PageToken = page.NextPageToken
	}
}

// message compares a legacy message with Falcon's.
func (rc *roomCheck) message(m legacydb.Message) {
	v := rc.v
	v.messages.Add(1)
	rc.seen[m.ID] = struct{}{}
	got, ok := rc.falcon[m.ID]
	delete(rc.falcon, m.ID)
	switch {
	case m.Deleted && ok:
		v.mismatch(Mismatch{Room: rc.id, Message: m.ID, Field: "message.deleted", Legacy: "deleted", Falcon: "readable"})
		return
	case m.Deleted:
		return
	case !ok:
		v.mismatch(Mismatch{Room: rc.id, Message: m.ID, Field: "message", Legacy: "exists", Falcon: "missing"})
		return
	}
	body, changed := domain.ImportText(string(m.Body))
	if changed {
		v.transformed.Add(1)
	}
	v.compare(rc.id, m.ID, "message.body", body, got.Body)
	if got.SenderId != account(m.AccountID) {
		v.compare(rc.id, m.ID, "message.account_id", account(m.AccountID), got.SenderId)
	}
	// Times compare as milliseconds, and are formatted only to report.
	created := millis(m.CreatedAt)
	if c := millisOf(got.CreatedAt); c != created {
		v.compare(rc.id, m.ID, "message.created_at", stamp(m.CreatedAt), stampOf(got.CreatedAt))
	}
	edited := int64(0)
	if m.UpdatedAt.After(m.CreatedAt) {
		edited = millis(m.UpdatedAt)
	}
	// An edit the legacy row did not timestamp (updated_at left at
	// created_at) shows as edited at its creation.
	if e := millisOf(got.EditedAt); e != edited && (edited != 0 || e != created) {
		want := ""
		if edited != 0 {
			want = stamp(m.UpdatedAt)
		}
		v.compare(rc.id, m.ID, "message.updated_at", want, stampOf(got.EditedAt))
	}
	reply := uint64(0)
	if _, known := rc.seen[m.ReplyTo]; m.ReplyTo != 0 && known {
		reply = m.ReplyTo
	} else if m.ReplyTo != 0 {
		v.repliesDropped.Add(1)
	}
	if reply != got.ReplyToMessageNumber {
		v.compare(rc.id, m.ID, "message.reply_to", fmt.Sprint(reply), fmt.Sprint(got.ReplyToMessageNumber))
	}
}

// finish reports Falcon's messages the legacy room does not have.
func (rc *roomCheck) finish(context.Context) error {
	extra := make([]uint64, 0, len(rc.falcon))
	for n := range rc.falcon {
		extra = append(extra, n)
	}
	slices.Sort(extra)
	for _, n := range extra {
		rc.v.mismatch(Mismatch{Room: rc.id, Message: n, Field: "message", Legacy: "missing", Falcon: "exists"})
	}
	return nil
}

func (v *verifier) compare(room, message uint64, field, legacy, falcon string) {
	if legacy != falcon {
		v.mismatch(Mismatch{Room: room, Message: message, Field: field, Legacy: legacy, Falcon: falcon})
	}
}

// stamp is a legacy DATETIME(3) as compared: milliseconds, UTC.
func stamp(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// millisOf is 0 for an unset time.
func millisOf(ts *timestamppb.Timestamp) int64 {
	if ts == nil {
		return 0
	}
	return ts.AsTime().UnixMilli()
}

func stampOf(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return stamp(ts.AsTime())
}

func roleName(admin bool) string {
	if admin {
		return "admin"
	}
	return "member"
}

func orAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

func sortedUnion(a, b map[string]string) []string {
	out := make([]string, 0, len(a)+len(b))
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func parseAccount(s string) (uint64, error) {
	var n uint64
	_, err := fmt.Sscan(s, &n)
	return n, err
}
