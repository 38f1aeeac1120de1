package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/legacydb"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// BulkConfig shapes a bulk run.
type BulkConfig struct {
	// Workers import chunks in parallel, each over its own connection to
	// the legacy database.
	Workers int
	// ChunkRooms is how many room ids a chunk spans: the unit of work and
	// of the checkpoint.
	ChunkRooms uint64
	// Batch is the most messages per Import call (at most MaxBatch).
	Batch int
	// Checkpoint is the file the run records its progress in, and resumes
	// from.
	Checkpoint string
	// Attempts bounds the tries of one Import call while write-api is
	// unavailable.
	Attempts int
}

// Validate checks the configuration.
func (c BulkConfig) Validate() error {
	switch {
	case c.Workers < 1:
		return errors.New("--workers must be at least 1")
	case c.ChunkRooms < 1:
		return errors.New("--chunk-rooms must be at least 1")
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("--batch must be 1 to %d", MaxBatch)
	case c.Checkpoint == "":
		return errors.New("--checkpoint is required: it is how a run resumes")
	case c.Attempts < 1:
		return errors.New("--attempts must be at least 1")
	}
	return nil
}

// saveEvery bounds how often a bulk run writes its checkpoint.
const saveEvery = 500 * time.Millisecond

// BulkResult is what a bulk run did.
type BulkResult struct {
	// Start is the binlog position recorded when the first run began:
	// follow starts there.
	Start    Position      `json:"start"`
	Counts   Counts        `json:"counts"`
	Chunks   int           `json:"chunks"`
	Resumed  int           `json:"chunks_done_before"`
	Took     time.Duration `json:"took_ns"`
	Messages int64         `json:"legacy_messages"`
}

// Bulk imports the legacy database through imp: rooms in chunks of room
// ids, in parallel; each chunk's rooms, members and messages streamed from
// the database in id order, so memory stays bounded whatever the size. A
// chunk is recorded in the checkpoint once all of it was imported; a run
// killed and started again redoes only the chunks not recorded, and
// write-api recognises what those had imported already. progress gets the
// messages read so far.
func Bulk(ctx context.Context, db *sql.DB, imp Importer, cfg BulkConfig, log *zap.Logger, progress func(done, total int64)) (BulkResult, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return BulkResult{}, err
	}
	cp, found, err := loadCheckpoint(cfg.Checkpoint)
	if err != nil {
		return BulkResult{}, err
	}
	if !found {
		// The position first: whatever changes after it, follow applies.
		pos, err := CurrentPosition(ctx, db)
		if err != nil {
			return BulkResult{}, err
		}
		lo, hi, err := legacydb.Span(ctx, db)
		if err != nil {
			return BulkResult{}, err
		}
		cp = checkpoint{Start: pos, Lo: lo, Hi: hi, ChunkRooms: cfg.ChunkRooms}
		if err := cp.save(cfg.Checkpoint); err != nil {
			return BulkResult{}, err
		}
		log.Info("bulk run started", zap.String("binlog_file", pos.File), zap.Uint32("binlog_pos", pos.Pos),
			zap.Uint64("first_room", lo), zap.Uint64("last_room", hi))
	} else {
		if cp.ChunkRooms != cfg.ChunkRooms {
			return BulkResult{}, fmt.Errorf("the checkpoint %s was made with --chunk-rooms %d, not %d: resume with the same, or remove it to start over",
				cfg.Checkpoint, cp.ChunkRooms, cfg.ChunkRooms)
		}
		log.Info("resuming a bulk run", zap.Int("chunks_done", cp.Done.Len()), zap.String("checkpoint", cfg.Checkpoint))
	}
	total, err := legacydb.Count(ctx, db, "message")
	if err != nil {
		return BulkResult{}, err
	}
	tally := &Tally{}
	tally.restore(cp.Counts)
	chunks := cp.chunks()
	res := BulkResult{Start: cp.Start, Chunks: chunks, Resumed: cp.Done.Len(), Messages: total}

	var mu sync.Mutex // guards cp and saved
	// saved is when the checkpoint was last written: at most every
	// saveEvery, so that thousands of small chunks do not mean thousands
	// of writes; a crash redoes what finished since.
	saved := time.Now()
	done := cp.Done
	todo := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(todo)
		for c := range chunks {
			if done.Has(c) {
				continue
			}
			select {
			case todo <- c:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	// Each chunk counts on its own and adds to the run's tally once done:
	// the checkpoint's counts are those of finished chunks, so a resumed
	// run does not count twice what it redoes. reading counts the rows of
	// chunks under way, for progress.
	var reading atomic.Int64
	for range cfg.Workers {
		g.Go(func() error {
			for c := range todo {
				lo, hi := cp.chunk(c)
				s := &sender{imp: imp, tally: &Tally{}, attempts: cfg.Attempts, reading: &reading}
				err := bulkChunk(gctx, db, s, cfg.Batch, lo, hi)
				reading.Add(-s.tally.Read.Load())
				if err != nil {
					return err
				}
				mu.Lock()
				tally.merge(s.tally)
				cp.Done.Add(c)
				if time.Since(saved) >= saveEvery {
					cp.Counts = tally.Counts()
					err = cp.save(cfg.Checkpoint)
					saved = time.Now()
				}
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				progress(tally.Read.Load()+reading.Load(), total)
				select {
				case <-stopProgress:
					progress(tally.Read.Load()+reading.Load(), total)
					return
				case <-t.C:
				}
			}
		}()
	}
	err = g.Wait()
	if err != nil {
		// What finished is kept for the next run.
		mu.Lock()
		cp.Counts = tally.Counts()
		if serr := cp.save(cfg.Checkpoint); serr != nil {
			log.Error("saving the checkpoint failed", zap.Error(serr))
		}
		mu.Unlock()
	}
	close(stopProgress)
	progressDone.Wait()
	res.Counts, res.Took = tally.Counts(), time.Since(start)
	if err != nil {
		return res, err
	}
	mu.Lock()
	cp.Finished, cp.Counts = true, res.Counts
	err = cp.save(cfg.Checkpoint)
	mu.Unlock()
	return res, err
}

// bulkChunk imports the rooms of [lo, hi]: each room's first call carries
// the room, its members and its first messages; further calls carry the
// rest, in id order.
func bulkChunk(ctx context.Context, db *sql.DB, s *sender, batch int, lo, hi uint64) error {
	rooms, err := legacydb.Rooms(ctx, db, lo, hi)
	if err != nil {
		return err
	}
	members, err := legacydb.Members(ctx, db, lo, hi)
	if err != nil {
		return err
	}
	c := &chunkRun{s: s, batch: batch, rooms: rooms, members: map[uint64][]legacydb.Member{}}
	for _, m := range members {
		c.members[m.RoomID] = append(c.members[m.RoomID], m)
	}
	err = legacydb.EachMessage(ctx, db, lo, hi, func(m legacydb.Message) error {
		s.tally.Read.Add(1)
		s.reading.Add(1)
		return c.message(ctx, m)
	})
	if err != nil {
		return err
	}
	return c.upTo(ctx, hi+1)
}

// chunkRun is the state of one chunk: the rooms in id order and the room
// whose messages are coming.
type chunkRun struct {
	s       *sender
	batch   int
	rooms   []legacydb.Room
	members map[uint64][]legacydb.Member
	// next is the first room not opened yet.
	next int
	// room is the room being imported, req its pending call; skip says its
	// messages are not imported (a deleted room, a missing one, or one
	// write-api refused).
	room uint64
	req  *falconv1.ImportRequest
	skip func(legacydb.Message)
}

func (c *chunkRun) message(ctx context.Context, m legacydb.Message) error {
	if c.req == nil && c.skip == nil || m.RoomID != c.room {
		if err := c.upTo(ctx, m.RoomID); err != nil {
			return err
		}
		c.open(m.RoomID)
	}
	if c.skip != nil {
		c.skip(m)
		return nil
	}
	c.req.Messages = append(c.req.Messages, messageProto(m))
	if len(c.req.Messages) < c.batch {
		return nil
	}
	return c.flush(ctx)
}

// upTo finishes the current room and imports every room before id, those
// without messages.
func (c *chunkRun) upTo(ctx context.Context, id uint64) error {
	if err := c.flush(ctx); err != nil {
		return err
	}
	c.req, c.skip = nil, nil
	for c.next < len(c.rooms) && c.rooms[c.next].ID < id {
		c.open(c.rooms[c.next].ID)
		if err := c.flush(ctx); err != nil {
			return err
		}
		c.req, c.skip = nil, nil
	}
	return nil
}

// open starts room id: its first call carries the room and its members
// (up to MaxBatch; the rest are sent at once).
func (c *chunkRun) open(id uint64) {
	c.room, c.req, c.skip = id, nil, nil
	if c.next >= len(c.rooms) || c.rooms[c.next].ID != id {
		c.skip = func(m legacydb.Message) { c.s.tally.orphan(m.ID) }
		return
	}
	r := c.rooms[c.next]
	c.next++
	if r.Deleted {
		c.s.tally.DeletedRooms.Add(1)
		c.skip = func(legacydb.Message) {}
		return
	}
	c.req = &falconv1.ImportRequest{RoomId: id, Room: roomProto(r)}
	for _, m := range c.members[id] {
		c.req.Members = append(c.req.Members, memberProto(m))
	}
}

// flush sends the pending call; a refusal is recorded as the room's and
// its further rows are skipped, any other error stops the run.
func (c *chunkRun) flush(ctx context.Context) error {
	if c.req == nil {
		return nil
	}
	req := c.req
	c.req = &falconv1.ImportRequest{RoomId: c.room}
	for len(req.Members) > MaxBatch {
		head := &falconv1.ImportRequest{RoomId: req.RoomId, Room: req.Room, Members: req.Members[:MaxBatch]}
		req = &falconv1.ImportRequest{RoomId: req.RoomId, Members: req.Members[MaxBatch:], Messages: req.Messages}
		if err := c.send(ctx, head); err != nil || c.skip != nil {
			return err
		}
	}
	if req.Room == nil && len(req.Members) == 0 && len(req.Messages) == 0 {
		return nil
	}
	return c.send(ctx, req)
}

func (c *chunkRun) send(ctx context.Context, req *falconv1.ImportRequest) error {
	err := c.s.send(ctx, req)
	if err == nil || !refused(err) {
		return err
	}
	c.s.tally.fail(req.RoomId, err)
	c.req = nil
	c.skip = func(legacydb.Message) {}
	return nil
}

// refused says write-api refused the rows themselves: the room is reported
// and the run goes on.
func refused(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.AlreadyExists:
		return true
	}
	return false
}
