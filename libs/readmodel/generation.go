package readmodel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// TableMeta holds the read models' state: which generation of tables is
// current, and whether a switch to another is under way.
const TableMeta = "meta"

var (
	metaRow       = []byte("read-models")
	colGeneration = "d:generation"
	colPaused     = "d:paused"
	colPauseID    = "d:pause"
	// Updaters' heartbeats: one row each, "updater/<id>".
	updaterPrefix = "updater/"
	colSeen       = "d:seen"
	colAck        = "d:ack"
)

// PollInterval is how often read-api and read-model-updater look at the
// generation pointer.
const PollInterval = 500 * time.Millisecond

// Generation numbers a set of read-model tables. A rebuild projects the
// whole topic into a new generation and then makes it current. Generation
// 0 has the plain table names; generation n > 0 appends "_g<n>".
type Generation uint64

// Table is the name of a read-model table in this generation.
func (g Generation) Table(base string) string {
	if g == 0 {
		return base
	}
	return fmt.Sprintf("%s_g%d", base, g)
}

// State is the generation pointer.
type State struct {
	Current Generation
	// Paused asks read-model-updaters to stop applying while a rebuild
	// brings the next generation level with the current one.
	Paused bool
	// PauseID names this pause: each updater acknowledges it (Heartbeat)
	// once it has stopped applying.
	PauseID string
}

// LoadState reads the pointer; a store that never had one is at generation
// 0, not paused.
func LoadState(ctx context.Context, s readstore.Store) (State, error) {
	row, ok, err := s.Get(ctx, TableMeta, metaRow)
	if err != nil || !ok {
		return State{}, err
	}
	g, _ := strconv.ParseUint(string(row.Value(colGeneration)), 10, 64)
	return State{Current: Generation(g), Paused: string(row.Value(colPaused)) == "1", PauseID: string(row.Value(colPauseID))}, nil
}

// StoreState writes the pointer.
func StoreState(ctx context.Context, s readstore.Store, st State) error {
	paused := "0"
	if st.Paused {
		paused = "1"
	}
	return s.Apply(ctx, []readstore.Mutation{{Table: TableMeta, Row: metaRow, Put: map[string][]byte{
		colGeneration: []byte(strconv.FormatUint(uint64(st.Current), 10)),
		colPaused:     []byte(paused),
		colPauseID:    []byte(st.PauseID),
	}}})
}

// UpdaterSeen is an updater's last heartbeat.
type UpdaterSeen struct {
	ID   string
	Seen time.Time
	// Ack is the last pause the updater has stopped applying for.
	Ack string
}

// Heartbeat records that updater id is alive at now and has stopped
// applying for the pause ack (empty: none).
func Heartbeat(ctx context.Context, s readstore.Store, id string, now time.Time, ack string) error {
	return s.Apply(ctx, []readstore.Mutation{{Table: TableMeta, Row: []byte(updaterPrefix + id), Put: map[string][]byte{
		colSeen: encTime(now),
		colAck:  []byte(ack),
	}}})
}

// Updaters returns every updater's last heartbeat.
func Updaters(ctx context.Context, s readstore.Store) ([]UpdaterSeen, error) {
	rows, err := s.Scan(ctx, TableMeta, readstore.Scan{Start: []byte(updaterPrefix), Stop: []byte(updaterPrefix[:len(updaterPrefix)-1] + "0")})
	if err != nil {
		return nil, err
	}
	out := make([]UpdaterSeen, 0, len(rows))
	for _, r := range rows {
		out = append(out, UpdaterSeen{ID: strings.TrimPrefix(string(r.Key), updaterPrefix), Seen: decTime(r.Value(colSeen)), Ack: string(r.Value(colAck))})
	}
	return out, nil
}

// Forget deletes an updater's heartbeat row, when it stops for good.
func Forget(ctx context.Context, s readstore.Store, id string) error {
	return s.Apply(ctx, []readstore.Mutation{{Table: TableMeta, Row: []byte(updaterPrefix + id), DeleteRow: true}})
}

// AtGeneration returns s with the read-model tables of generation g; other
// tables keep their names. Closing it does not close s.
func AtGeneration(s readstore.Store, g Generation) readstore.Store {
	if g == 0 {
		return s
	}
	return generationStore{store: s, g: g}
}

type generationStore struct {
	store readstore.Store
	g     Generation
}

func (s generationStore) name(t string) string {
	if _, ok := Tables[t]; ok && t != TableMeta {
		return s.g.Table(t)
	}
	return t
}

func (s generationStore) Get(ctx context.Context, table string, row []byte) (readstore.Row, bool, error) {
	return s.store.Get(ctx, s.name(table), row)
}

func (s generationStore) GetMulti(ctx context.Context, table string, rows [][]byte, columns ...string) ([]readstore.Row, error) {
	return s.store.GetMulti(ctx, s.name(table), rows, columns...)
}

func (s generationStore) Scan(ctx context.Context, table string, sc readstore.Scan) ([]readstore.Row, error) {
	return s.store.Scan(ctx, s.name(table), sc)
}

func (s generationStore) Apply(ctx context.Context, ms []readstore.Mutation) error {
	renamed := make([]readstore.Mutation, len(ms))
	// Mutations come grouped by table: each name is made once per run.
	var from, to string
	for i, m := range ms {
		if m.Table != from {
			from, to = m.Table, s.name(m.Table)
		}
		m.Table = to
		renamed[i] = m
	}
	return s.store.Apply(ctx, renamed)
}

func (s generationStore) Close() error { return nil }

// GenerationSpecs are the tables of generation g, for readstore.Schema.
func GenerationSpecs(g Generation) []readstore.TableSpec {
	var out []readstore.TableSpec
	for _, t := range GenerationTables {
		out = append(out, readstore.TableSpec{Name: g.Table(t), Families: Tables[t], Splits: Splits(t)})
	}
	return out
}
