package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	gomysql "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/falcon-chat/falcon/libs/legacydb"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// FollowConfig shapes a follow run.
type FollowConfig struct {
	// DSN is the legacy database's (Go MySQL driver DSN): follow connects
	// to it as a replica with the same account.
	DSN string
	// ServerID is this replica's id, unique among the database's replicas.
	ServerID uint32
	// Start is where to begin when the checkpoint has no position yet: the
	// bulk run's start.
	Start Position
	// Checkpoint is the file recording the position applied so far.
	Checkpoint string
	// MaxBatch bounds the rows applied together; Parallel the rooms
	// imported at once.
	MaxBatch, Parallel int
	// Attempts bounds the tries of one Import call.
	Attempts int
}

// FollowStats is what a follow run has done so far.
type FollowStats struct {
	Position Position `json:"position"`
	Rows     int64    `json:"rows_applied"`
	Txns     int64    `json:"transactions_applied"`
	// Lag is how far behind the legacy database the last applied change
	// was when applied (the binlog's clock has seconds).
	Lag time.Duration `json:"lag_ns"`
	// InsertLag is, for the messages inserted, the time from their
	// created_at to their import (meaningful where the legacy clock is
	// this machine's, as in the benchmark): percentiles of the last 65,536.
	InsertLag map[string]time.Duration `json:"insert_lag_ns,omitempty"`
	Counts    Counts                   `json:"counts"`
}

type followState struct {
	Position Position `json:"position"`
}

// Follow applies the binlog's changes to the three legacy tables from the
// checkpoint's position (else cfg.Start) through imp, until ctx ends. Rows
// are applied in commit order, a room's changes in one call per batch and
// rooms in parallel; the position is recorded once a batch of whole
// transactions is applied, so a restart repeats at most that batch, which
// write-api recognises. report gets the stats every few seconds.
func Follow(ctx context.Context, db *sql.DB, imp Importer, cfg FollowConfig, log *zap.Logger, report func(FollowStats)) (FollowStats, error) {
	var state followState
	if b, err := os.ReadFile(cfg.Checkpoint); err == nil {
		if err := json.Unmarshal(b, &state); err != nil {
			return FollowStats{}, fmt.Errorf("follow checkpoint %s is not one (remove it to start from --from): %w", cfg.Checkpoint, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return FollowStats{}, err
	}
	if state.Position.File == "" {
		state.Position = cfg.Start
	}
	if state.Position.File == "" {
		return FollowStats{}, errors.New("no binlog position to start from: run bulk first (its checkpoint records one), or give --from file:pos")
	}
	dsn, err := gomysql.ParseDSN(cfg.DSN)
	if err != nil {
		return FollowStats{}, fmt.Errorf("--legacy-dsn: %w", err)
	}
	host, port, err := net.SplitHostPort(dsn.Addr)
	if err != nil {
		return FollowStats{}, fmt.Errorf("--legacy-dsn address %q: %w", dsn.Addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return FollowStats{}, fmt.Errorf("--legacy-dsn port %q: %w", port, err)
	}
	cols, err := columns(ctx, db, dsn.DBName)
	if err != nil {
		return FollowStats{}, err
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: cfg.ServerID, Flavor: mysql.MariaDBFlavor, Host: host, Port: uint16(p), User: dsn.User, Password: dsn.Passwd,
		ParseTime: true, HeartbeatPeriod: time.Second, ReadTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: state.Position.File, Pos: state.Position.Pos})
	if err != nil {
		return FollowStats{}, fmt.Errorf("reading the binlog from %s:%d: %w", state.Position.File, state.Position.Pos, err)
	}
	f := &follower{cfg: cfg, cols: cols, schema: dsn.DBName, s: &sender{imp: imp, tally: &Tally{}, attempts: cfg.Attempts},
		log: log, pos: state.Position}
	return f.run(ctx, streamer, report)
}

// columns maps each legacy table's column names to their positions, as
// binlog rows carry them.
func columns(ctx context.Context, db *sql.DB, schema string) (map[string]map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('room', 'room_member', 'message')`, schema)
	if err != nil {
		return nil, fmt.Errorf("the legacy tables' columns: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var table, col string
		var pos int
		if err := rows.Scan(&table, &col, &pos); err != nil {
			return nil, err
		}
		if out[table] == nil {
			out[table] = map[string]int{}
		}
		out[table][col] = pos - 1
	}
	if len(out) != 3 {
		return nil, fmt.Errorf("database %s lacks the legacy tables (found %d of room, room_member, message)", schema, len(out))
	}
	return out, rows.Err()
}

type follower struct {
	cfg    FollowConfig
	cols   map[string]map[string]int
	schema string
	s      *sender
	log    *zap.Logger

	// pos is the position after the last whole transaction read; applied
	// the position recorded as applied.
	pos, applied Position
	file         string
	// pending holds the rows of the whole transactions read, by room, in
	// the order rooms first appeared; rows counts them; oldest is the
	// commit time of the first.
	pending map[uint64]*falconv1.ImportRequest
	order   []uint64
	rows    int
	oldest  time.Time
	// started is when the first pending row was read.
	started time.Time
	// txn holds the rows of the transaction being read.
	txn   []change
	stats FollowStats
	// lags are the insert lags of the last maxLags messages, in a ring.
	lags []time.Duration
	next int
	mu   sync.Mutex
}

// change is one row event: the room it belongs to and what to import.
type change struct {
	room    uint64
	roomRow *falconv1.LegacyRoom
	member  *falconv1.LegacyMember
	message *falconv1.LegacyMessage
}

func (f *follower) run(ctx context.Context, streamer *replication.BinlogStreamer, report func(FollowStats)) (FollowStats, error) {
	f.file = f.pos.File
	f.pending = map[uint64]*falconv1.ImportRequest{}
	lastReport := time.Now()
	for {
		// Wait briefly for more: a batch gathers what arrives together,
		// and an idle binlog applies what it has at once.
		wait := 50 * time.Millisecond
		if f.rows == 0 {
			wait = time.Second
		}
		evCtx, cancel := context.WithTimeout(ctx, wait)
		ev, err := streamer.GetEvent(evCtx)
		cancel()
		if ctx.Err() != nil {
			// Stopped: what is read in whole transactions is applied.
			err := f.flush(context.WithoutCancel(ctx))
			return f.snapshot(), err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			if err := f.flush(ctx); err != nil {
				return f.snapshot(), err
			}
		} else if err != nil {
			return f.snapshot(), fmt.Errorf("binlog: %w", err)
		} else if err := f.event(ev); err != nil {
			return f.snapshot(), err
		}
		if f.rows >= f.cfg.MaxBatch || f.rows > 0 && time.Since(f.started) >= flushEvery {
			if err := f.flush(ctx); err != nil {
				return f.snapshot(), err
			}
		}
		if report != nil && time.Since(lastReport) >= 5*time.Second {
			report(f.snapshot())
			lastReport = time.Now()
		}
	}
}

// event reads one binlog event.
func (f *follower) event(ev *replication.BinlogEvent) error {
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		f.file = string(e.NextLogName)
		if f.rows == 0 && len(f.txn) == 0 {
			f.pos = Position{File: f.file, Pos: uint32(e.Position)}
		}
	case *replication.RowsEvent:
		return f.rowsEvent(ev.Header, e)
	case *replication.XIDEvent:
		f.commit(ev.Header)
	case *replication.QueryEvent:
		// MariaDB ends non-transactional statements with a query; a COMMIT
		// query ends a transaction as an XID does.
		if q := bytes.TrimSpace(e.Query); bytes.EqualFold(q, []byte("COMMIT")) {
			f.commit(ev.Header)
		}
	}
	return nil
}

func (f *follower) commit(h *replication.EventHeader) {
	f.pos = Position{File: f.file, Pos: h.LogPos}
	if len(f.txn) == 0 {
		return
	}
	if f.rows == 0 {
		f.oldest, f.started = time.Unix(int64(h.Timestamp), 0), time.Now()
	}
	for _, c := range f.txn {
		req, ok := f.pending[c.room]
		if !ok {
			req = &falconv1.ImportRequest{RoomId: c.room}
			f.pending[c.room] = req
			f.order = append(f.order, c.room)
		}
		switch {
		case c.roomRow != nil:
			req.Room = c.roomRow
		case c.member != nil:
			req.Members = append(req.Members, c.member)
		case c.message != nil:
			req.Messages = append(req.Messages, c.message)
		}
		f.rows++
	}
	f.txn = f.txn[:0]
	f.stats.Txns++
}

func (f *follower) rowsEvent(h *replication.EventHeader, e *replication.RowsEvent) error {
	if string(e.Table.Schema) != f.schema {
		return nil
	}
	table := string(e.Table.Table)
	cols, ok := f.cols[table]
	if !ok {
		return nil
	}
	var kind string
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
		kind = "insert"
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		kind = "update"
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
		kind = "delete"
	default:
		return nil
	}
	step := 1
	if kind == "update" {
		step = 2 // before and after images
	}
	for i := 0; i+step-1 < len(e.Rows); i += step {
		row := e.Rows[i+step-1]
		var before []any
		if step == 2 {
			before = e.Rows[i]
		}
		c, err := rowChange(table, kind, cols, before, row)
		if err != nil {
			return fmt.Errorf("binlog row of %s at %s:%d: %w", table, f.file, h.LogPos, err)
		}
		f.txn = append(f.txn, c)
	}
	return nil
}

// rowChange turns a row image into what to import.
func rowChange(table, kind string, cols map[string]int, before, row []any) (change, error) {
	get := func(r []any, col string) any {
		i, ok := cols[col]
		if !ok || i >= len(r) {
			return nil
		}
		return r[i]
	}
	v := func(col string) any { return get(row, col) }
	var err error
	u := func(col string) uint64 {
		n, e := asUint(v(col))
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", col, e)
		}
		return n
	}
	t := func(col string) time.Time {
		x, e := asTime(v(col))
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", col, e)
		}
		return x
	}
	var c change
	switch table {
	case "room":
		c.room = u("room_id")
		c.roomRow = roomProto(legacydb.Room{Name: asBytes(v("name")), Description: asBytes(v("description")),
			CreatedAt: t("created_at"), UpdatedAt: t("updated_at"), Deleted: u("deleted") != 0 || kind == "delete"})
	case "room_member":
		c.room = u("room_id")
		// ENUM('admin','member') is its index in the binlog: 1 is admin.
		role := v("role")
		admin := role == int64(1) || role == "admin"
		c.member = &falconv1.LegacyMember{AccountId: u("account_id"), Admin: admin, At: timestamp(t("joined_at")), Removed: kind == "delete"}
	case "message":
		c.room = u("room_id")
		m := messageProto(legacydb.Message{ID: u("message_id"), AccountID: u("account_id"), Body: asBytes(v("body")),
			ReplyTo: u("reply_to"), CreatedAt: t("created_at"), UpdatedAt: t("updated_at"), Deleted: u("deleted") != 0 || kind == "delete"})
		if before != nil {
			m.BodyChanged = !bytes.Equal(asBytes(get(before, "body")), m.Body)
		}
		c.message = m
	}
	return c, err
}

// flush applies the pending transactions: each room's rows in order, rooms
// in parallel; then records the position.
func (f *follower) flush(ctx context.Context) error {
	if f.rows == 0 {
		if f.pos != f.applied {
			return f.record()
		}
		return nil
	}
	now := time.Now()
	var inserted []time.Time
	for _, room := range f.order {
		for _, m := range f.pending[room].Messages {
			if !m.BodyChanged && !m.Deleted {
				inserted = append(inserted, m.CreatedAt.AsTime())
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.cfg.Parallel)
	for _, room := range f.order {
		req := f.pending[room]
		g.Go(func() error { return f.sendRoom(gctx, req) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	f.mu.Lock()
	for _, at := range inserted {
		f.lag(time.Since(at))
	}
	f.stats.Rows += int64(f.rows)
	f.stats.Lag = now.Sub(f.oldest)
	f.mu.Unlock()
	clear(f.pending)
	f.order, f.rows = f.order[:0], 0
	return f.record()
}

// sendRoom sends one room's rows, split at MaxBatch, in order.
func (f *follower) sendRoom(ctx context.Context, req *falconv1.ImportRequest) error {
	for {
		part := &falconv1.ImportRequest{RoomId: req.RoomId, Room: req.Room}
		n := min(len(req.Members), MaxBatch)
		part.Members, req.Members = req.Members[:n], req.Members[n:]
		m := min(len(req.Messages), MaxBatch)
		if len(req.Members) > 0 {
			m = 0 // members first, as they were
		}
		part.Messages, req.Messages = req.Messages[:m], req.Messages[m:]
		req.Room = nil
		if err := f.s.send(ctx, part); err != nil && !refused(err) {
			return err
		} else if err != nil {
			f.s.tally.fail(req.RoomId, err)
			f.log.Error("write-api refused a room's changes; they are in the report", zap.Uint64("room", req.RoomId), zap.Error(err))
		}
		if len(req.Members) == 0 && len(req.Messages) == 0 {
			return nil
		}
	}
}

// flushEvery bounds how long a read row waits for more to be applied
// with: the lag a steady stream of writes sees.
const flushEvery = 50 * time.Millisecond

// maxLags bounds the insert lags kept for percentiles.
const maxLags = 1 << 16

func (f *follower) lag(d time.Duration) {
	if len(f.lags) < maxLags {
		f.lags = append(f.lags, d)
		return
	}
	f.lags[f.next] = d
	f.next = (f.next + 1) % maxLags
}

func (f *follower) record() error {
	b, err := json.Marshal(followState{Position: f.pos})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.cfg.Checkpoint, b); err != nil {
		return fmt.Errorf("follow checkpoint: %w", err)
	}
	f.applied = f.pos
	return nil
}

func (f *follower) snapshot() FollowStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Position = f.applied
	s.Counts = f.s.tally.Counts()
	if len(f.lags) > 0 {
		l := slices.Clone(f.lags)
		slices.Sort(l)
		q := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
		s.InsertLag = map[string]time.Duration{"p50": q(0.5), "p99": q(0.99), "max": l[len(l)-1]}
	}
	return s
}

func asUint(v any) (uint64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int8:
		return uint64(uint8(x)), nil
	case int16:
		return uint64(uint16(x)), nil
	case int32:
		return uint64(uint32(x)), nil
	case int64:
		return uint64(x), nil
	case uint64:
		return x, nil
	case int:
		return uint64(x), nil
	case string:
		return strconv.ParseUint(x, 10, 64)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		return time.ParseInLocation("2006-01-02 15:04:05.999999", x, time.UTC)
	case nil:
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}
