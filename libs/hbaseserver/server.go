// Package hbaseserver is `falcon store`: a server of the Thrift2 subset in
// libs/hbase/thrift over the Pebble store, so that separate processes share
// one read store through the production HBase client, the way kfake stands
// in for Kafka.
//
// HBase semantics it keeps: tables must be created (with their column
// families) before use, and a put to an unknown family fails as in HBase;
// rows sorted by unsigned bytes; a scan's start row is inclusive and its
// stop row exclusive; reversed scans run from the start row down to the stop
// row; limits; a missing row is an empty result; deletes of a row, a column
// (all versions) or a family; mutateRow is atomic for its row (every
// putMultiple and deleteMultiple is too, which HBase does not promise across
// rows); namespaces.
//
// What it does not keep: versions (only the latest value of a cell exists,
// timestamps are ignored, and a maxVersions of 1 or more reads that value;
// below 1, as in HBase, a scan returns nothing), time ranges, filters, TTLs,
// compression and bloom settings (accepted and ignored), regions and split
// keys, disabled tables (disableTable only precedes deleteTable).
package hbaseserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// Internal tables of the server itself.
const (
	tablesTable     = "__tables"
	namespacesTable = "__namespaces"
)

// ScannerIdleTimeout closes scanners a client forgot.
const ScannerIdleTimeout = time.Minute

// Handler implements THBaseService over a Pebble store.
type Handler struct {
	store *pebblestore.Store

	mu       sync.Mutex
	tables   map[string]map[string]bool // table -> families
	scanners map[int32]*scanner
	nextID   int32
}

type scanner struct {
	table    string
	scan     *hbase.TScan
	after    []byte // last row returned
	returned int
	done     bool
	used     time.Time
}

// NewHandler loads the table catalogue from the store.
func NewHandler(ctx context.Context, store *pebblestore.Store) (*Handler, error) {
	h := &Handler{store: store, tables: map[string]map[string]bool{}, scanners: map[int32]*scanner{}}
	rows, err := store.Scan(ctx, tablesTable, readstore.Scan{})
	if err != nil {
		return nil, fmt.Errorf("load table catalogue: %w", err)
	}
	for _, r := range rows {
		fams := map[string]bool{}
		for _, c := range r.Cells {
			fams[strings.TrimPrefix(c.Column, "f:")] = true
		}
		h.tables[string(r.Key)] = fams
	}
	return h, nil
}

func ioError(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &hbase.TIOError{Message: &msg}
}

func fullName(n *hbase.TTableName) string {
	if n == nil {
		return ""
	}
	if len(n.Ns) == 0 || string(n.Ns) == "default" {
		return string(n.Qualifier)
	}
	return string(n.Ns) + ":" + string(n.Qualifier)
}

// families returns a table's families, or an error like HBase's.
func (h *Handler) families(table []byte) (map[string]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.tables[string(table)]
	if !ok {
		return nil, ioError("org.apache.hadoop.hbase.TableNotFoundException: %s", table)
	}
	return f, nil
}

func result(r readstore.Row, columns []*hbase.TColumn) *hbase.TResult_ {
	res := &hbase.TResult_{ColumnValues: []*hbase.TColumnValue{}}
	if r.Cells == nil {
		return res
	}
	for _, c := range r.Cells {
		if wanted(c.Column, columns) {
			f, q, _ := strings.Cut(c.Column, ":")
			res.ColumnValues = append(res.ColumnValues, &hbase.TColumnValue{Family: []byte(f), Qualifier: []byte(q), Value: c.Value})
		}
	}
	if len(res.ColumnValues) > 0 {
		res.Row = r.Key
	}
	return res
}

func wanted(col string, columns []*hbase.TColumn) bool {
	if len(columns) == 0 {
		return true
	}
	f, q, _ := strings.Cut(col, ":")
	for _, c := range columns {
		if string(c.Family) == f && (c.Qualifier == nil || string(c.Qualifier) == q) {
			return true
		}
	}
	return false
}

// Exists implements THBaseService: whether the row has any cell.
func (h *Handler) Exists(ctx context.Context, table []byte, tget *hbase.TGet) (bool, error) {
	r, err := h.Get(ctx, table, tget)
	return err == nil && len(r.ColumnValues) > 0, err
}

// Get implements THBaseService: one row, or an empty result.
func (h *Handler) Get(ctx context.Context, table []byte, tget *hbase.TGet) (*hbase.TResult_, error) {
	if _, err := h.families(table); err != nil {
		return nil, err
	}
	r, _, err := h.store.Get(ctx, string(table), tget.GetRow())
	if err != nil {
		return nil, ioError("get: %v", err)
	}
	return result(r, tget.GetColumns()), nil
}

// GetMultiple implements THBaseService: rows in the order asked.
func (h *Handler) GetMultiple(ctx context.Context, table []byte, tgets []*hbase.TGet) ([]*hbase.TResult_, error) {
	out := make([]*hbase.TResult_, len(tgets))
	for i, g := range tgets {
		r, err := h.Get(ctx, table, g)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func (h *Handler) putMutation(table []byte, fams map[string]bool, p *hbase.TPut) (readstore.Mutation, error) {
	m := readstore.Mutation{Table: string(table), Row: p.GetRow(), Put: map[string][]byte{}}
	if len(m.Row) == 0 {
		return m, ioError("java.lang.IllegalArgumentException: Row length is 0")
	}
	for _, cv := range p.GetColumnValues() {
		if !fams[string(cv.Family)] {
			return m, ioError("org.apache.hadoop.hbase.regionserver.NoSuchColumnFamilyException: Column family %s does not exist in table %s", cv.Family, table)
		}
		m.Put[string(cv.Family)+":"+string(cv.Qualifier)] = cv.Value
	}
	return m, nil
}

func (h *Handler) deleteMutation(ctx context.Context, table []byte, fams map[string]bool, d *hbase.TDelete) (readstore.Mutation, error) {
	m := readstore.Mutation{Table: string(table), Row: d.GetRow()}
	if len(d.GetColumns()) == 0 {
		m.DeleteRow = true
		return m, nil
	}
	var row readstore.Row
	for _, c := range d.GetColumns() {
		if !fams[string(c.Family)] {
			return m, ioError("org.apache.hadoop.hbase.regionserver.NoSuchColumnFamilyException: Column family %s does not exist in table %s", c.Family, table)
		}
		if c.Qualifier != nil {
			m.DeleteColumns = append(m.DeleteColumns, string(c.Family)+":"+string(c.Qualifier))
			continue
		}
		// A whole family: every column of it this row has.
		if row.Cells == nil {
			r, _, err := h.store.Get(ctx, string(table), d.GetRow())
			if err != nil {
				return m, ioError("delete: %v", err)
			}
			row = r
		}
		for _, cell := range row.Family(string(c.Family)) {
			m.DeleteColumns = append(m.DeleteColumns, cell.Column)
		}
	}
	return m, nil
}

// PutMultiple implements THBaseService; a put to an unknown family fails,
// as in HBase.
func (h *Handler) PutMultiple(ctx context.Context, table []byte, tputs []*hbase.TPut) error {
	fams, err := h.families(table)
	if err != nil {
		return err
	}
	ms := make([]readstore.Mutation, 0, len(tputs))
	for _, p := range tputs {
		m, err := h.putMutation(table, fams, p)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return h.apply(ctx, ms)
}

// DeleteMultiple implements THBaseService: rows, columns or families.
func (h *Handler) DeleteMultiple(ctx context.Context, table []byte, tdeletes []*hbase.TDelete) ([]*hbase.TDelete, error) {
	fams, err := h.families(table)
	if err != nil {
		return nil, err
	}
	ms := make([]readstore.Mutation, 0, len(tdeletes))
	for _, d := range tdeletes {
		m, err := h.deleteMutation(ctx, table, fams, d)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return []*hbase.TDelete{}, h.apply(ctx, ms)
}

// MutateRow implements THBaseService: the mutations of one row, atomically
// and in order.
func (h *Handler) MutateRow(ctx context.Context, table []byte, rm *hbase.TRowMutations) error {
	fams, err := h.families(table)
	if err != nil {
		return err
	}
	var ms []readstore.Mutation
	for _, mu := range rm.GetMutations() {
		var m readstore.Mutation
		switch {
		case mu.IsSetPut():
			if !bytes.Equal(mu.Put.GetRow(), rm.GetRow()) {
				return ioError("org.apache.hadoop.hbase.DoNotRetryIOException: put row does not match the mutation's row")
			}
			m, err = h.putMutation(table, fams, mu.Put)
		case mu.IsSetDeleteSingle():
			if !bytes.Equal(mu.DeleteSingle.GetRow(), rm.GetRow()) {
				return ioError("org.apache.hadoop.hbase.DoNotRetryIOException: delete row does not match the mutation's row")
			}
			m, err = h.deleteMutation(ctx, table, fams, mu.DeleteSingle)
		default:
			return ioError("mutateRow: an empty mutation")
		}
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return h.apply(ctx, ms)
}

func (h *Handler) apply(ctx context.Context, ms []readstore.Mutation) error {
	if err := h.store.Apply(ctx, ms); err != nil {
		return ioError("write: %v", err)
	}
	return nil
}

// OpenScanner implements THBaseService.
func (h *Handler) OpenScanner(ctx context.Context, table []byte, tscan *hbase.TScan) (int32, error) {
	if _, err := h.families(table); err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	h.scanners[h.nextID] = &scanner{table: string(table), scan: tscan, used: time.Now()}
	return h.nextID, nil
}

// GetScannerRows implements THBaseService: the next rows of a scanner.
func (h *Handler) GetScannerRows(ctx context.Context, id int32, numRows int32) ([]*hbase.TResult_, error) {
	h.mu.Lock()
	sc, ok := h.scanners[id]
	if ok {
		sc.used = time.Now()
	}
	h.mu.Unlock()
	if !ok {
		msg := fmt.Sprintf("invalid scanner id %d", id)
		return nil, &hbase.TIllegalArgument{Message: &msg}
	}
	out := []*hbase.TResult_{}
	if sc.done || numRows <= 0 {
		return out, nil
	}
	n := int(numRows)
	if lim := int(sc.scan.GetLimit()); lim > 0 {
		n = min(n, lim-sc.returned)
	}
	s := readstore.Scan{Start: sc.scan.GetStartRow(), Stop: sc.scan.GetStopRow(), Reverse: sc.scan.GetReversed(), Limit: n}
	if len(s.Start) == 0 {
		s.Start = nil
	}
	if len(s.Stop) == 0 {
		s.Stop = nil
	}
	if sc.after != nil {
		if s.Reverse {
			// Start is inclusive: ask one more and drop the row we gave.
			s.Start, s.Limit = sc.after, n+1
		} else {
			s.Start = append(bytes.Clone(sc.after), 0x00)
		}
	}
	rows, err := h.store.Scan(ctx, sc.table, s)
	if err != nil {
		return nil, ioError("scan: %v", err)
	}
	if sc.after != nil && s.Reverse && len(rows) > 0 && bytes.Equal(rows[0].Key, sc.after) {
		rows = rows[1:]
	}
	if len(rows) > n {
		rows = rows[:n]
	}
	for _, r := range rows {
		// HBase returns no cells for a scan of maxVersions below 1, and so no
		// rows: a client that sends a zero-valued TScan finds out here.
		if res := result(r, sc.scan.GetColumns()); res.Row != nil && sc.scan.GetMaxVersions() >= 1 {
			out = append(out, res)
		}
	}
	h.mu.Lock()
	if len(rows) > 0 {
		sc.after = rows[len(rows)-1].Key
	}
	sc.returned += len(rows)
	sc.done = len(rows) < n || sc.scan.GetLimit() > 0 && sc.returned >= int(sc.scan.GetLimit())
	h.mu.Unlock()
	return out, nil
}

// CloseScanner implements THBaseService.
func (h *Handler) CloseScanner(ctx context.Context, id int32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.scanners[id]; !ok {
		msg := fmt.Sprintf("invalid scanner id %d", id)
		return &hbase.TIllegalArgument{Message: &msg}
	}
	delete(h.scanners, id)
	return nil
}

// expireScanners drops scanners idle for longer than ScannerIdleTimeout.
func (h *Handler) expireScanners(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, sc := range h.scanners {
		if now.Sub(sc.used) > ScannerIdleTimeout {
			delete(h.scanners, id)
		}
	}
}

// TableExists implements THBaseService.
func (h *Handler) TableExists(ctx context.Context, name *hbase.TTableName) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.tables[fullName(name)]
	return ok, nil
}

// CreateTable implements THBaseService; split keys are accepted and
// ignored (there are no regions).
func (h *Handler) CreateTable(ctx context.Context, desc *hbase.TTableDescriptor, _ [][]byte) error {
	name := fullName(desc.GetTableName())
	if name == "" || strings.HasPrefix(name, "__") {
		return ioError("java.lang.IllegalArgumentException: invalid table name %q", name)
	}
	if ns, _, ok := strings.Cut(name, ":"); ok {
		if _, found, _ := h.store.Get(ctx, namespacesTable, []byte(ns)); !found {
			return ioError("org.apache.hadoop.hbase.NamespaceNotFoundException: %s", ns)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.tables[name]; ok {
		return ioError("org.apache.hadoop.hbase.TableExistsException: %s", name)
	}
	cells := map[string][]byte{}
	fams := map[string]bool{}
	for _, c := range desc.GetColumns() {
		cells["f:"+string(c.Name)] = encodeFamily(c)
		fams[string(c.Name)] = true
	}
	if len(fams) == 0 {
		return ioError("org.apache.hadoop.hbase.DoNotRetryIOException: table %s has no column family", name)
	}
	if err := h.store.Apply(ctx, []readstore.Mutation{{Table: tablesTable, Row: []byte(name), Put: cells}}); err != nil {
		return ioError("createTable: %v", err)
	}
	h.tables[name] = fams
	return nil
}

// DisableTable implements THBaseService; it only precedes deleteTable.
func (h *Handler) DisableTable(ctx context.Context, name *hbase.TTableName) error {
	if _, err := h.families([]byte(fullName(name))); err != nil {
		return err
	}
	return nil
}

// DeleteTable implements THBaseService: the table and its rows.
func (h *Handler) DeleteTable(ctx context.Context, name *hbase.TTableName) error {
	n := fullName(name)
	if _, err := h.families([]byte(n)); err != nil {
		return err
	}
	if err := h.store.DropTable(ctx, n); err != nil {
		return ioError("deleteTable: %v", err)
	}
	if err := h.store.Apply(ctx, []readstore.Mutation{{Table: tablesTable, Row: []byte(n), DeleteRow: true}}); err != nil {
		return ioError("deleteTable: %v", err)
	}
	h.mu.Lock()
	delete(h.tables, n)
	h.mu.Unlock()
	return nil
}

// CreateNamespace implements THBaseService.
func (h *Handler) CreateNamespace(ctx context.Context, desc *hbase.TNamespaceDescriptor) error {
	if desc.GetName() == "" {
		return ioError("java.lang.IllegalArgumentException: empty namespace name")
	}
	if _, found, _ := h.store.Get(ctx, namespacesTable, []byte(desc.GetName())); found {
		return ioError("org.apache.hadoop.hbase.NamespaceExistException: %s", desc.GetName())
	}
	return h.apply(ctx, []readstore.Mutation{{Table: namespacesTable, Row: []byte(desc.GetName()), Put: map[string][]byte{"d:name": []byte(desc.GetName())}}})
}

// ListNamespaces implements THBaseService, with HBase's default and hbase.
func (h *Handler) ListNamespaces(ctx context.Context) ([]string, error) {
	rows, err := h.store.Scan(ctx, namespacesTable, readstore.Scan{})
	if err != nil {
		return nil, ioError("listNamespaces: %v", err)
	}
	out := []string{"default", "hbase"}
	for _, r := range rows {
		out = append(out, string(r.Key))
	}
	return out, nil
}

// A family's settings, kept so that getTableDescriptor answers what
// createTable and addColumnFamily were given (the store itself ignores
// them; see the package comment).
type familySettings struct {
	Bloom       string `json:"bloom,omitempty"`
	Compression string `json:"compression,omitempty"`
	MaxVersions int32  `json:"maxVersions,omitempty"`
}

func encodeFamily(c *hbase.TColumnFamilyDescriptor) []byte {
	var f familySettings
	if c.IsSetBloomnFilterType() {
		f.Bloom = c.GetBloomnFilterType().String()
	}
	if c.IsSetCompressionType() {
		f.Compression = c.GetCompressionType().String()
	}
	f.MaxVersions = c.GetMaxVersions()
	b, _ := json.Marshal(f)
	return b
}

// decodeFamily reads what encodeFamily wrote, with HBase's defaults (ROW
// blooms, no compression, one version) for what is not there, as in
// catalogues written before settings were kept.
func decodeFamily(name string, b []byte) *hbase.TColumnFamilyDescriptor {
	f := familySettings{Bloom: "ROW", Compression: "NONE", MaxVersions: 1}
	_ = json.Unmarshal(b, &f)
	d := &hbase.TColumnFamilyDescriptor{Name: []byte(name), MaxVersions: &f.MaxVersions}
	if bt, err := hbase.TBloomFilterTypeFromString(f.Bloom); err == nil {
		d.BloomnFilterType = &bt
	}
	if ct, err := hbase.TCompressionAlgorithmFromString(f.Compression); err == nil {
		d.CompressionType = &ct
	}
	return d
}

// GetTableDescriptor implements THBaseService: the families and the
// settings they were created with.
func (h *Handler) GetTableDescriptor(ctx context.Context, name *hbase.TTableName) (*hbase.TTableDescriptor, error) {
	n := fullName(name)
	if _, err := h.families([]byte(n)); err != nil {
		return nil, err
	}
	r, _, err := h.store.Get(ctx, tablesTable, []byte(n))
	if err != nil {
		return nil, ioError("getTableDescriptor: %v", err)
	}
	desc := &hbase.TTableDescriptor{TableName: name}
	for _, c := range r.Cells {
		desc.Columns = append(desc.Columns, decodeFamily(strings.TrimPrefix(c.Column, "f:"), c.Value))
	}
	return desc, nil
}

// GetTableNamesByNamespace implements THBaseService.
func (h *Handler) GetTableNamesByNamespace(ctx context.Context, ns string) ([]*hbase.TTableName, error) {
	if !h.namespaceExists(ctx, ns) {
		return nil, ioError("org.apache.hadoop.hbase.NamespaceNotFoundException: %s", ns)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []*hbase.TTableName{}
	for t := range h.tables {
		tns, q, ok := strings.Cut(t, ":")
		if !ok {
			tns, q = "default", t
		}
		if tns == ns {
			out = append(out, &hbase.TTableName{Ns: []byte(tns), Qualifier: []byte(q)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Qualifier) < string(out[j].Qualifier) })
	return out, nil
}

// AddColumnFamily implements THBaseService.
func (h *Handler) AddColumnFamily(ctx context.Context, name *hbase.TTableName, column *hbase.TColumnFamilyDescriptor) error {
	n := fullName(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	fams, ok := h.tables[n]
	if !ok {
		return ioError("org.apache.hadoop.hbase.TableNotFoundException: %s", n)
	}
	f := string(column.GetName())
	if f == "" {
		return ioError("java.lang.IllegalArgumentException: empty column family name")
	}
	if fams[f] {
		return ioError("org.apache.hadoop.hbase.InvalidFamilyOperationException: Column family '%s' in table '%s' already exists so cannot be added", f, n)
	}
	if err := h.store.Apply(ctx, []readstore.Mutation{{Table: tablesTable, Row: []byte(n), Put: map[string][]byte{"f:" + f: encodeFamily(column)}}}); err != nil {
		return ioError("addColumnFamily: %v", err)
	}
	grown := make(map[string]bool, len(fams)+1)
	for k := range fams {
		grown[k] = true
	}
	grown[f] = true
	h.tables[n] = grown
	return nil
}

// DeleteNamespace implements THBaseService: only empty namespaces go.
func (h *Handler) DeleteNamespace(ctx context.Context, ns string) error {
	if ns == "default" || ns == "hbase" {
		return ioError("org.apache.hadoop.hbase.constraint.ConstraintException: Reserved namespace %s cannot be removed.", ns)
	}
	if !h.namespaceExists(ctx, ns) {
		return ioError("org.apache.hadoop.hbase.NamespaceNotFoundException: %s", ns)
	}
	tables, err := h.GetTableNamesByNamespace(ctx, ns)
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		return ioError("org.apache.hadoop.hbase.constraint.ConstraintException: Only empty namespaces can be removed. Namespace %s has %d tables", ns, len(tables))
	}
	return h.apply(ctx, []readstore.Mutation{{Table: namespacesTable, Row: []byte(ns), DeleteRow: true}})
}

func (h *Handler) namespaceExists(ctx context.Context, ns string) bool {
	if ns == "default" || ns == "hbase" {
		return true
	}
	_, found, _ := h.store.Get(ctx, namespacesTable, []byte(ns))
	return found
}
