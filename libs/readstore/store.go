// Package readstore is the read side's storage interface, shaped like HBase:
// tables of rows sorted by row key, each row a set of "family:qualifier"
// cells. Implementations: pebblestore (embedded) and hbasestore (HBase
// through Thrift2); drivers opens either from a URL.
package readstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Cell is one cell of a row: its column, "family:qualifier", and value.
type Cell struct {
	Column string
	Value  []byte
}

// Row is one row and the cells read from it, in column order (byte order
// of Column). A row that was asked for and has none of the cells asked
// has nil Cells. A slice rather than a map: most rows read are messages of
// one or two cells, and a page of them was mostly map buckets.
type Row struct {
	Key   []byte
	Cells []Cell
}

// Lookup returns the value of column and whether the row has it.
func (r Row) Lookup(column string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(r.Cells, column, compareColumn)
	if !ok {
		return nil, false
	}
	return r.Cells[i].Value, true
}

// Value returns the value of column, nil if the row does not have it.
func (r Row) Value(column string) []byte {
	v, _ := r.Lookup(column)
	return v
}

// Family returns the row's cells of a family, in column order.
func (r Row) Family(family string) []Cell {
	prefix := family + ":"
	i, _ := slices.BinarySearchFunc(r.Cells, prefix, compareColumn)
	j := i
	for j < len(r.Cells) && strings.HasPrefix(r.Cells[j].Column, prefix) {
		j++
	}
	return r.Cells[i:j:j]
}

func compareColumn(c Cell, column string) int { return strings.Compare(c.Column, column) }

// SortCells puts cells in column order, for a store whose reads return them
// in another (HBase orders by family, then qualifier).
func SortCells(cells []Cell) {
	less := func(a, b Cell) int { return strings.Compare(a.Column, b.Column) }
	if !slices.IsSortedFunc(cells, less) {
		slices.SortFunc(cells, less)
	}
}

// Mutation changes one row. DeleteRow runs first, then DeleteColumns, then
// Put; a mutation is atomic for its row.
type Mutation struct {
	Table         string
	Row           []byte
	DeleteRow     bool
	DeleteColumns []string
	Put           map[string][]byte
}

// Scan selects rows of a table. Forward scans run from Start (inclusive) up
// to Stop (exclusive); a Reverse scan runs from Start (inclusive) down to
// Stop (exclusive), as HBase's reversed scans do. An empty bound is open.
// Limit caps the rows returned (0: no cap).
type Scan struct {
	Start   []byte
	Stop    []byte
	Reverse bool
	Limit   int
}

// Store is the read store.
type Store interface {
	// Get reads one row; ok is false when it has no cells.
	Get(ctx context.Context, table string, row []byte) (r Row, ok bool, err error)
	// GetMulti reads rows; missing rows come back with nil Cells, in the
	// order asked. With columns, it reads only those: a column is a family
	// ("d", every cell of it) or a cell ("d:title"), as HBase's Get takes
	// them (a family and a cell of it read as the family, each cell
	// once); a row with none of them comes back with nil Cells.
	GetMulti(ctx context.Context, table string, rows [][]byte, columns ...string) ([]Row, error)
	// Apply writes mutations, in order; they are durable when it returns.
	Apply(ctx context.Context, ms []Mutation) error
	// Scan reads rows in key order.
	Scan(ctx context.Context, table string, s Scan) ([]Row, error)
	Close() error
}

// GroupCommitter is a Store that can make writes readable now and durable
// later, together: what ApplyVisible wrote is read at once, and survives a
// crash of the machine once a Sync that began after it returns. One Sync
// for many writers' batches costs one fsync, where a durable Apply costs
// one each. A store whose every write is durable when acknowledged (HBase)
// does not implement it.
type GroupCommitter interface {
	ApplyVisible(ctx context.Context, ms []Mutation) error
	Sync(ctx context.Context) error
}

// Visible is s with its Apply made ApplyVisible when s is a GroupCommitter,
// for a writer that calls Sync itself before it relies on what it wrote
// (the read-model-updater, before it commits its Kafka offsets); otherwise
// s itself.
func Visible(s Store) Store {
	if g, ok := s.(GroupCommitter); ok {
		return visible{Store: s, g: g}
	}
	return s
}

type visible struct {
	Store
	g GroupCommitter
}

func (v visible) Apply(ctx context.Context, ms []Mutation) error { return v.g.ApplyVisible(ctx, ms) }

// ErrBadURL is returned by Open for a store URL it cannot use.
var ErrBadURL = errors.New("bad store URL")

// ErrNoTable means a table the call named does not exist in a store whose
// tables must be created (HBase): the read-model tables are created by
// `falcon store-init`.
var ErrNoTable = errors.New("read store table does not exist")

// ErrUnavailable means the store could not be reached (a connection or
// timeout error, as opposed to an answer): retrying later may succeed.
var ErrUnavailable = errors.New("read store unreachable")

// Driver opens a store from its URL, for Drivers.
type Driver func(ctx context.Context, u *url.URL) (Store, error)

// Drivers open stores by URL scheme, as database/sql opens databases by
// driver name: a program lists the drivers it links (drivers.All has every
// one of this project), and the URL picks among them.
type Drivers map[string]Driver

// Open opens the store named by a URL, such as pebble:///path or
// hbase+thrift://host:port.
func (d Drivers) Open(ctx context.Context, raw string) (Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, raw, err)
	}
	if open, ok := d[u.Scheme]; ok {
		return open(ctx, u)
	}
	schemes := make([]string, 0, len(d))
	for s := range d {
		schemes = append(schemes, s+"://")
	}
	sort.Strings(schemes)
	return nil, fmt.Errorf("%w %q: scheme %q is not supported (%s)", ErrBadURL, raw, u.Scheme, strings.Join(schemes, ", "))
}

// TableSpec describes a table for stores whose tables must be created.
type TableSpec struct {
	Name     string
	Families []string
	// Splits are initial region boundaries, where the store has regions.
	Splits [][]byte
}

// Schema is implemented by stores that manage tables (HBase); stores
// without a schema (Pebble) take any table name.
type Schema interface {
	// CreateTables creates the tables that do not exist yet.
	CreateTables(ctx context.Context, tables []TableSpec) error
	// DropTable deletes a table and its rows, if it exists.
	DropTable(ctx context.Context, table string) error
}
