// Package pebblestore is the embedded read store: readstore.Store on Pebble,
// for one process (falcon dev, tests, and the server of falcon store).
package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// Store is the embedded readstore.Store. Each cell is one Pebble key:
//
//	"t" table 0x00 escaped(row) 0x00 0x01 column
//
// Row bytes 0x00 are written 0x00 0xFF, so binary row keys keep their order
// and a row never runs into the next.
type Store struct {
	db *pebble.DB
	// mu guards closing: Pebble panics when used after Close, and a
	// component may still be finishing a call while its process stops.
	mu     sync.RWMutex
	closed bool
}

// errClosed answers calls made after Close.
var errClosed = errors.New("pebble store is closed")

// use takes the store for one call, read-locking p.mu for the caller to
// unlock, unless it is closed or ctx has ended.
func (p *Store) use(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return errClosed
	}
	return nil
}

// Open opens (or creates) a Pebble store in dir.
func Open(dir string) (*Store, error) {
	return open(dir, options())
}

func open(dir string, o *pebble.Options) (*Store, error) {
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, fmt.Errorf("open pebble store at %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// options suit the read model's writes: every message rewrites a few cells
// of its thread row and moves its members' index rows, so most keys are
// overwritten or deleted soon after they are written. A large memtable
// drops those versions at flush instead of carrying them through L0 and
// compactions (Pebble's default of 4 MB flushed several times a second at
// 2,000 messages/s, and compactions took a quarter of falcon dev's CPU);
// memtables start small and grow, so a test's store stays small. The
// block cache keeps recent threads' rows for the projector's reads.
func options() *pebble.Options {
	o := &pebble.Options{
		Logger:        quietLogger{},
		CacheSize:     128 << 20,
		MemTableSize:  64 << 20,
		LBaseMaxBytes: 256 << 20,
	}
	o.TargetFileSizes[0] = 8 << 20
	return o
}

// Close closes the database.
func (p *Store) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.db.Close()
}

// Driver opens the store of a pebble:///absolute/path URL.
func Driver(_ context.Context, u *url.URL) (readstore.Store, error) {
	if u.Path == "" {
		return nil, fmt.Errorf("%w %q: want pebble:///absolute/path", readstore.ErrBadURL, u.String())
	}
	return Open(u.Path)
}

func tableStart(table string) []byte { return append([]byte("t"+table), 0x00) }
func tableEnd(table string) []byte   { return append([]byte("t"+table), 0x01) }

func escapeRow(dst, row []byte) []byte {
	for _, b := range row {
		if b == 0x00 {
			dst = append(dst, 0x00, 0xFF)
		} else {
			dst = append(dst, b)
		}
	}
	return dst
}

// rowStart is the first key any cell of row can have; rowEnd is past the last.
func rowStart(table string, row []byte) []byte { return appendRowStart(nil, table, row) }

func appendRowStart(dst []byte, table string, row []byte) []byte {
	return appendRowBound(dst, table, row, 0x01)
}

func rowEnd(table string, row []byte) []byte { return appendRowEnd(nil, table, row) }

func appendRowEnd(dst []byte, table string, row []byte) []byte {
	return appendRowBound(dst, table, row, 0x02)
}

// appendRowBound appends the table, the escaped row and 0x00 b: 0x01 comes
// before the row's cells, 0x02 after them.
func appendRowBound(dst []byte, table string, row []byte, b byte) []byte {
	dst = append(append(append(dst, 't'), table...), 0x00)
	return append(escapeRow(dst, row), 0x00, b)
}

// splitKey returns the row and column of a cell key within a table. The
// row is the key's own bytes unless the row had 0x00 bytes to unescape;
// both live only as long as the key. Scans split every key they pass, so
// it looks for the separator with bytes.IndexByte and allocates nothing.
func splitKey(table string, key []byte) (row, column []byte, err error) {
	prefix := len("t") + len(table) + 1
	if len(key) < prefix {
		return nil, nil, fmt.Errorf("corrupt cell key %x in table %s", key, table)
	}
	rest := key[prefix:]
	for i := 0; ; i++ {
		j := bytes.IndexByte(rest[i:], 0x00)
		if j < 0 || i+j+1 >= len(rest) {
			break
		}
		i += j
		switch rest[i+1] {
		case 0x01:
			return rest[:i], rest[i+2:], nil
		case 0xFF:
			return unescapeRow(table, key, rest)
		}
	}
	return nil, nil, fmt.Errorf("corrupt cell key %x in table %s", key, table)
}

// unescapeRow is splitKey for a row with 0x00 bytes (written 0x00 0xFF).
func unescapeRow(table string, key, rest []byte) (row, column []byte, err error) {
	row = make([]byte, 0, len(rest))
	for i := 0; i < len(rest); i++ {
		if rest[i] != 0x00 {
			row = append(row, rest[i])
			continue
		}
		if i+1 >= len(rest) {
			break
		}
		switch rest[i+1] {
		case 0xFF:
			row = append(row, 0x00)
			i++
		case 0x01:
			return row, rest[i+2:], nil
		}
	}
	return nil, nil, fmt.Errorf("corrupt cell key %x in table %s", key, table)
}

// Get reads one row.
func (p *Store) Get(ctx context.Context, table string, row []byte) (readstore.Row, bool, error) {
	if err := p.use(ctx); err != nil {
		return readstore.Row{Key: row}, false, err
	}
	defer p.mu.RUnlock()
	rows, err := p.rows(table, [][]byte{row}, nil)
	if err != nil {
		return readstore.Row{Key: row}, false, err
	}
	return rows[0], rows[0].Cells != nil, nil
}

// GetMulti reads rows in the order asked, all their cells or the columns
// named.
func (p *Store) GetMulti(ctx context.Context, table string, keys [][]byte, columns ...string) ([]readstore.Row, error) {
	if err := p.use(ctx); err != nil {
		return nil, err
	}
	defer p.mu.RUnlock()
	for _, c := range columns {
		if c == "" || c[0] == ':' {
			return nil, fmt.Errorf("read %s: column %q has no family", table, c)
		}
	}
	return p.rows(table, keys, columns)
}

// rows reads rows in the order asked; a missing one has no cells. One
// iterator serves all the rows, seeking from one to the next in key order:
// making an iterator per row cost more than reading the row. With columns,
// a cell is a point seek and a family a seek then a walk of its cells, in
// key order too, so that the iterator only moves forward.
func (p *Store) rows(table string, keys [][]byte, columns []string) ([]readstore.Row, error) {
	if len(columns) == 1 && !isFamily(columns[0]) {
		return p.cell(table, keys, columns[0])
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	if len(columns) > 1 {
		columns = slices.Clone(columns)
		slices.Sort(columns)
		columns = slices.Compact(columns)
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: tableStart(table), UpperBound: tableEnd(table)})
	if err != nil {
		return nil, fmt.Errorf("read %d rows of %s: %w", len(keys), table, err)
	}
	defer it.Close()
	out := make([]readstore.Row, len(keys))
	var start, end []byte
	var c collector
	for _, i := range order {
		out[i] = readstore.Row{Key: keys[i]}
		from := len(c.cells)
		start = appendRowStart(start[:0], table, keys[i])
		if len(columns) == 0 {
			end = appendRowEnd(end[:0], table, keys[i])
			readCells(it, &c, start, end, len(start))
		}
		for _, col := range columns {
			end = append(end[:0], start...)
			end = append(end, col...)
			if !isFamily(col) {
				if it.SeekGE(end) && bytes.Equal(it.Key(), end) {
					c.add(it.Key()[len(start):], it.Value())
				}
				continue
			}
			readCells(it, &c, append(end, ':'), nil, len(start))
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("read row %x of %s: %w", keys[i], table, err)
		}
		out[i].Cells = c.row(from)
	}
	return out, nil
}

// isFamily says whether a column names a whole family ("m") rather than a
// cell ("m:bob").
func isFamily(column string) bool { return strings.IndexByte(column, ':') < 0 }

// cell reads one cell of each row as point reads. An iterator's seek
// positions itself in every level of the tree, loading a block of each
// sstable that may hold the key, while a point read stops at the newest
// level holding it: the memtable, for a cell that every message rewrites
// (a thread's version, which the projector checks before each batch).
// With several cells a row, the iterator stays cheaper: its seeks within a
// row move forward in blocks it already holds.
func (p *Store) cell(table string, keys [][]byte, column string) ([]readstore.Row, error) {
	out := make([]readstore.Row, len(keys))
	var key []byte
	var c collector
	for i, row := range keys {
		out[i] = readstore.Row{Key: row}
		key = appendRowStart(key[:0], table, row)
		prefix := len(key)
		key = append(key, column...)
		v, closer, err := p.db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s of row %x in %s: %w", column, row, table, err)
		}
		from := len(c.cells)
		c.add(key[prefix:], v)
		out[i].Cells = c.row(from)
		if err := closer.Close(); err != nil {
			return nil, fmt.Errorf("read %s of row %x in %s: %w", column, row, table, err)
		}
	}
	return out, nil
}

// readCells adds to c the cells from key from up to key to (nil: while
// their keys start with from); a cell's column is its key after skip bytes.
func readCells(it *pebble.Iterator, c *collector, from, to []byte, skip int) {
	for ok := it.SeekGE(from); ok; ok = it.Next() {
		k := it.Key()
		if to != nil && bytes.Compare(k, to) >= 0 || to == nil && !bytes.HasPrefix(k, from) {
			return
		}
		c.add(k[skip:], it.Value())
	}
}

// collector copies what one read returns out of the iterator's memory with
// few allocations: values into shared chunks, each column name once past
// a few cells (a page of 50 messages is 50 to 100 cells of two names), and
// the cells of
// all the rows into one slice that each row's Cells is a piece of.
type collector struct {
	chunk   []byte
	columns map[string]string
	cells   []readstore.Cell
}

// maxChunk is the most a chunk of values holds: a value keeps its chunk
// alive, so chunks stay small; they start at 256 bytes and double, so that
// reading one small row costs little.
const maxChunk = 16 << 10

func (c *collector) value(v []byte) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	if len(v) > maxChunk/4 {
		return bytes.Clone(v)
	}
	if len(v) > cap(c.chunk)-len(c.chunk) {
		c.chunk = make([]byte, 0, max(min(2*cap(c.chunk), maxChunk), 256, len(v)))
	}
	start := len(c.chunk)
	c.chunk = append(c.chunk, v...)
	return c.chunk[start:len(c.chunk):len(c.chunk)]
}

// column returns a column's name, made once per read: the last cell's
// when it is the same (rows of one cell), or from a map once the read is
// long enough for one to pay (a caller's access check reads 3 cells).
func (c *collector) column(b []byte) string {
	if n := len(c.cells); n > 0 && c.cells[n-1].Column == string(b) {
		return c.cells[n-1].Column
	}
	if s, ok := c.columns[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(c.cells) >= internAfter {
		if c.columns == nil {
			c.columns = make(map[string]string, 16)
		}
		c.columns[s] = s
	}
	return s
}

// internAfter is how many cells a read takes before it makes each column
// name once.
const internAfter = 8

func (c *collector) add(column, value []byte) {
	c.cells = append(c.cells, readstore.Cell{Column: c.column(column), Value: c.value(value)})
}

// row returns the cells added since from as one row's, in column order,
// each once; nil if there are none. Later adds do not touch them.
func (c *collector) row(from int) []readstore.Cell {
	if from == len(c.cells) {
		return nil
	}
	cells := c.cells[from:len(c.cells):len(c.cells)]
	readstore.SortCells(cells)
	// A family and a cell of it, both asked, meet the cell twice.
	return slices.CompactFunc(cells, func(a, b readstore.Cell) bool { return a.Column == b.Column })
}

// Apply writes the mutations in one synced batch.
func (p *Store) Apply(ctx context.Context, ms []readstore.Mutation) error {
	return p.apply(ctx, ms, pebble.Sync)
}

// ApplyVisible writes the mutations in one batch, readable when it
// returns and durable after the next Sync.
func (p *Store) ApplyVisible(ctx context.Context, ms []readstore.Mutation) error {
	return p.apply(ctx, ms, pebble.NoSync)
}

// Sync makes every batch committed before it durable: a synced write of
// nothing but a log record waits for the write-ahead log to be synced
// through it.
func (p *Store) Sync(ctx context.Context) error {
	if err := p.use(ctx); err != nil {
		return err
	}
	defer p.mu.RUnlock()
	if err := p.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	return nil
}

func (p *Store) apply(ctx context.Context, ms []readstore.Mutation, opts *pebble.WriteOptions) error {
	if err := p.use(ctx); err != nil {
		return err
	}
	defer p.mu.RUnlock()
	b := p.db.NewBatch()
	defer b.Close()
	// The batch copies keys, so one buffer holds each in turn: the row's
	// prefix, then a column after it.
	var key []byte
	for _, m := range ms {
		if m.DeleteRow {
			if err := b.DeleteRange(rowStart(m.Table, m.Row), rowEnd(m.Table, m.Row), nil); err != nil {
				return fmt.Errorf("delete row %x of %s: %w", m.Row, m.Table, err)
			}
		}
		key = appendRowStart(key[:0], m.Table, m.Row)
		prefix := len(key)
		for _, c := range m.DeleteColumns {
			key = append(key[:prefix], c...)
			if err := b.Delete(key, nil); err != nil {
				return fmt.Errorf("delete %s of row %x in %s: %w", c, m.Row, m.Table, err)
			}
		}
		for c, v := range m.Put {
			key = append(key[:prefix], c...)
			if err := b.Set(key, v, nil); err != nil {
				return fmt.Errorf("put %s of row %x in %s: %w", c, m.Row, m.Table, err)
			}
		}
	}
	if err := b.Commit(opts); err != nil {
		return fmt.Errorf("commit %d mutations: %w", len(ms), err)
	}
	return nil
}

// Scan reads rows in key order, forward or reverse.
func (p *Store) Scan(ctx context.Context, table string, s readstore.Scan) ([]readstore.Row, error) {
	if err := p.use(ctx); err != nil {
		return nil, err
	}
	defer p.mu.RUnlock()
	lower, upper := tableStart(table), tableEnd(table)
	if !s.Reverse {
		if s.Start != nil {
			lower = rowStart(table, s.Start)
		}
		if s.Stop != nil {
			upper = rowStart(table, s.Stop)
		}
	} else {
		if s.Start != nil {
			upper = rowEnd(table, s.Start)
		}
		if s.Stop != nil {
			lower = rowEnd(table, s.Stop)
		}
	}
	if bytes.Compare(lower, upper) >= 0 {
		return nil, nil
	}
	return p.scan(table, lower, upper, s.Reverse, s.Limit)
}

func (p *Store) scan(table string, lower, upper []byte, reverse bool, limit int) ([]readstore.Row, error) {
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", table, err)
	}
	defer it.Close()
	var rows []readstore.Row
	var c collector
	if limit > 0 {
		rows = make([]readstore.Row, 0, min(limit, maxPresized))
		c.cells = make([]readstore.Cell, 0, min(limit, maxPresized))
	}
	step := it.Next
	ok := it.First()
	if reverse {
		step, ok = it.Prev, it.Last()
	}
	// from is where the cells of the last row begin, open whether that row
	// may still have cells to come.
	from, open := 0, false
	for ; ok; ok = step() {
		row, col, err := splitKey(table, it.Key())
		if err != nil {
			return nil, err
		}
		if !open || !bytes.Equal(rows[len(rows)-1].Key, row) {
			if open {
				rows[len(rows)-1].Cells = rowCells(&c, from, reverse)
				open = false
			}
			if limit > 0 && len(rows) == limit {
				break
			}
			rows = append(rows, readstore.Row{Key: c.value(row)})
			from, open = len(c.cells), true
		}
		c.add(col, it.Value())
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", table, err)
	}
	if open {
		rows[len(rows)-1].Cells = rowCells(&c, from, reverse)
	}
	return rows, nil
}

// maxPresized caps what a scan allocates ahead for its limit.
const maxPresized = 1024

// rowCells is c.row(from) for a scan: a reverse scan meets a row's cells
// last column first.
func rowCells(c *collector, from int, reverse bool) []readstore.Cell {
	if reverse {
		slices.Reverse(c.cells[from:])
	}
	return c.row(from)
}

// quietLogger keeps Pebble's informational chatter out of the service logs;
// errors still surface through returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// DropTable deletes every row of a table.
func (p *Store) DropTable(ctx context.Context, table string) error {
	if err := p.use(ctx); err != nil {
		return err
	}
	defer p.mu.RUnlock()
	if err := p.db.DeleteRange(tableStart(table), tableEnd(table), pebble.Sync); err != nil {
		return fmt.Errorf("drop table %s: %w", table, err)
	}
	return nil
}

// CreateTables has nothing to do: Pebble takes any table name.
func (p *Store) CreateTables(context.Context, []readstore.TableSpec) error { return nil }
