package hbasestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/falcon-chat/falcon/libs/hbase/binproto"
	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// Error is an error HBase reported (as opposed to one of the connection to
// its gateway).
type Error struct {
	Op      string
	Message string
}

func (e *Error) Error() string { return "HBase " + e.Op + ": " + e.Message }

// Store is readstore.Store on HBase. It keeps up to PoolSize connections;
// a call waits for one when all are busy.
type Store struct {
	opts    Options
	slots   chan struct{}
	idle    chan *conn
	metrics *clientMetrics
}

type conn struct {
	trans  thrift.TTransport
	client *hbase.THBaseServiceClient
}

// Driver opens a Store from a hbase+thrift:// URL, for readstore.Drivers.
func Driver(ctx context.Context, u *url.URL) (readstore.Store, error) {
	o, err := ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", readstore.ErrBadURL, err)
	}
	return Open(ctx, o)
}

// Open returns a store of the gateway o names. It connects on demand (up to
// o.PoolSize connections), so that a service starts, and says it is not
// ready, while HBase is out of reach; Ping checks the whole path.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Addr == "" || o.PoolSize < 1 || o.Timeout <= 0 {
		return nil, fmt.Errorf("%w: HBase gateway options %+v need an address, a pool of at least 1 and a timeout", readstore.ErrBadURL, o)
	}
	return &Store{opts: o, slots: make(chan struct{}, o.PoolSize), idle: make(chan *conn, o.PoolSize), metrics: newClientMetrics()}, nil
}

func (s *Store) dial() (*conn, error) {
	conf := &thrift.TConfiguration{ConnectTimeout: s.opts.Timeout, SocketTimeout: s.opts.Timeout,
		MaxMessageSize: binproto.MaxMessageSize, MaxFrameSize: binproto.MaxFrameSize}
	var trans thrift.TTransport = thrift.NewTSocketConf(s.opts.Addr, conf)
	if s.opts.TLS != nil {
		tc, err := s.opts.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("TLS to the HBase Thrift2 gateway %s: %w", s.opts.Addr, err)
		}
		conf.TLSConfig = tc
		trans = thrift.NewTSSLSocketConf(s.opts.Addr, conf)
	}
	if s.opts.Framed {
		trans = thrift.NewTFramedTransportConf(trans, conf)
	} else {
		trans = thrift.NewTBufferedTransport(trans, 64<<10)
	}
	if err := trans.Open(); err != nil {
		return nil, fmt.Errorf("connect to HBase Thrift2 gateway %s: %w", s.opts.Addr, err)
	}
	proto := binproto.New(trans, conf)
	return &conn{trans: trans, client: hbase.NewTHBaseServiceClient(thrift.NewTStandardClient(proto, proto))}, nil
}

// get takes a connection slot, waiting while all are busy, and an idle
// connection or a new one.
func (s *Store) get(ctx context.Context) (*conn, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case c := <-s.idle:
		return c, nil
	default:
	}
	c, err := s.dial()
	if err != nil {
		<-s.slots
	}
	return c, err
}

// put returns a healthy connection; release gives up a broken one.
func (s *Store) put(c *conn) {
	s.idle <- c
	<-s.slots
}

func (s *Store) release(c *conn) {
	_ = c.trans.Close()
	<-s.slots
}

// call runs fn on a pooled connection. A transport error closes the
// connection; the call is retried on a fresh one when idempotent (every call
// this store makes is: puts and deletes of given values, reads).
func (s *Store) call(ctx context.Context, what string, fn func(*hbase.THBaseServiceClient) error) (err error) {
	op, _, _ := strings.Cut(what, " ")
	start := time.Now()
	defer func() { s.metrics.observe(op, start, err) }()
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			s.metrics.retries.WithLabelValues(op).Inc()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var c *conn
		c, err = s.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		err = fn(c.client)
		var terr thrift.TTransportException
		if errors.As(err, &terr) {
			s.release(c)
			continue
		}
		s.put(c)
		break
	}
	if err != nil {
		var ioe *hbase.TIOError
		if errors.As(err, &ioe) {
			return &Error{Op: what, Message: ioe.GetMessage()}
		}
		return fmt.Errorf("%w: HBase %s via %s: %w", readstore.ErrUnavailable, what, s.opts.Addr, err)
	}
	return nil
}

// tableCall is call for an operation on a table. HBase's gateway answers an
// operation on a missing table with an error whose message is the table's
// name and nothing else; after an HBase error the table's existence is
// checked, so that the error says what is wrong and how to fix it
// (readstore.ErrNoTable).
func (s *Store) tableCall(ctx context.Context, what, table string, fn func(*hbase.THBaseServiceClient) error) error {
	err := s.call(ctx, what+" "+table, fn)
	var herr *Error
	if err == nil || !errors.As(err, &herr) {
		return err
	}
	var exists bool
	cerr := s.call(ctx, "tableExists", func(c *hbase.THBaseServiceClient) (err error) {
		exists, err = c.TableExists(ctx, s.tableName(table))
		return err
	})
	// HBase refuses tableExists for a namespace that does not exist.
	if cerr == nil && !exists || errors.As(cerr, &herr) {
		return fmt.Errorf("%w: HBase table %s (create the read-model tables with: falcon store-init --store %s)",
			readstore.ErrNoTable, s.opts.table(table), s.opts.URL())
	}
	return err
}

// Close closes the idle connections; call it once no call is running.
func (s *Store) Close() error {
	for {
		select {
		case c := <-s.idle:
			_ = c.trans.Close()
		default:
			return nil
		}
	}
}

func rowOf(key []byte, r *hbase.TResult_) readstore.Row {
	row := readstore.Row{Key: key}
	if r == nil || len(r.ColumnValues) == 0 {
		return row
	}
	if r.Row != nil {
		row.Key = r.Row
	}
	row.Cells = make([]readstore.Cell, len(r.ColumnValues))
	for i, cv := range r.ColumnValues {
		row.Cells[i] = readstore.Cell{Column: string(cv.Family) + ":" + string(cv.Qualifier), Value: cv.Value}
	}
	readstore.SortCells(row.Cells)
	return row
}

// Get reads one row.
func (s *Store) Get(ctx context.Context, table string, row []byte) (readstore.Row, bool, error) {
	var res *hbase.TResult_
	err := s.tableCall(ctx, "get from", table, func(c *hbase.THBaseServiceClient) (err error) {
		res, err = c.Get(ctx, s.opts.table(table), &hbase.TGet{Row: row})
		return err
	})
	if err != nil {
		return readstore.Row{Key: row}, false, err
	}
	r := rowOf(row, res)
	return r, r.Cells != nil, nil
}

// GetMulti reads rows with one getMultiple call.
func (s *Store) GetMulti(ctx context.Context, table string, rows [][]byte, columns ...string) ([]readstore.Row, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	tcols, err := tcolumns(columns)
	if err != nil {
		return nil, err
	}
	gets := make([]*hbase.TGet, len(rows))
	for i, r := range rows {
		gets[i] = &hbase.TGet{Row: r, Columns: tcols}
	}
	var res []*hbase.TResult_
	err = s.tableCall(ctx, "getMultiple from", table, func(c *hbase.THBaseServiceClient) (err error) {
		res, err = c.GetMultiple(ctx, s.opts.table(table), gets)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]readstore.Row, len(rows))
	for i := range rows {
		var r *hbase.TResult_
		if i < len(res) {
			r = res[i]
		}
		out[i] = rowOf(rows[i], r)
	}
	return out, nil
}

// tcolumns are the columns of a Get: a family alone, or a family and a
// qualifier.
//
// HBase lets the last of a family and a cell of it win; readstore reads
// both, which is the family, so a cell of a family asked whole is left out.
func tcolumns(columns []string) ([]*hbase.TColumn, error) {
	var out []*hbase.TColumn
	var whole []string // families asked whole
	for _, c := range columns {
		if strings.Contains(c, ":") {
			continue
		}
		if c == "" {
			return nil, errors.New("get: empty column family")
		}
		if !slices.Contains(whole, c) {
			whole = append(whole, c)
			out = append(out, &hbase.TColumn{Family: []byte(c)})
		}
	}
	for _, c := range columns {
		if !strings.Contains(c, ":") {
			continue
		}
		f, q, err := splitColumn(c)
		if err != nil {
			return nil, err
		}
		if slices.Contains(whole, string(f)) {
			continue
		}
		out = append(out, &hbase.TColumn{Family: f, Qualifier: q})
	}
	return out, nil
}

func splitColumn(col string) (family, qualifier []byte, err error) {
	f, q, ok := strings.Cut(col, ":")
	if !ok || f == "" {
		return nil, nil, fmt.Errorf("column %q is not family:qualifier", col)
	}
	return []byte(f), []byte(q), nil
}

func tput(row []byte, cells map[string][]byte) (*hbase.TPut, error) {
	p := &hbase.TPut{Row: row}
	cols := make([]string, 0, len(cells))
	for c := range cells {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		f, q, err := splitColumn(c)
		if err != nil {
			return nil, err
		}
		v := cells[c]
		if v == nil {
			v = []byte{}
		}
		p.ColumnValues = append(p.ColumnValues, &hbase.TColumnValue{Family: f, Qualifier: q, Value: v})
	}
	return p, nil
}

func tdelete(m readstore.Mutation) (*hbase.TDelete, error) {
	d := &hbase.TDelete{Row: m.Row}
	if m.DeleteRow {
		return d, nil
	}
	d.DeleteType = hbase.TDeleteType_DELETE_COLUMNS
	for _, c := range m.DeleteColumns {
		f, q, err := splitColumn(c)
		if err != nil {
			return nil, err
		}
		d.Columns = append(d.Columns, &hbase.TColumn{Family: f, Qualifier: q})
	}
	return d, nil
}

// Apply writes the mutations table by table, in the order the tables first
// appear (the projector relies on that: thread rows, which carry the applied
// version, come last). Within a table, rows that only receive puts go in one
// putMultiple, rows that are only deleted in one deleteMultiple, and a row
// with both gets a mutateRow, which HBase applies atomically and in order.
func (s *Store) Apply(ctx context.Context, ms []readstore.Mutation) error {
	var tables []string
	byTable := map[string][]readstore.Mutation{}
	for _, m := range ms {
		if _, ok := byTable[m.Table]; !ok {
			tables = append(tables, m.Table)
		}
		byTable[m.Table] = append(byTable[m.Table], m)
	}
	for _, t := range tables {
		if err := s.applyTable(ctx, t, byTable[t]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyTable(ctx context.Context, table string, ms []readstore.Mutation) error {
	var order []string
	byRow := map[string][]readstore.Mutation{}
	for _, m := range ms {
		k := string(m.Row)
		if _, ok := byRow[k]; !ok {
			order = append(order, k)
		}
		byRow[k] = append(byRow[k], m)
	}
	var puts []*hbase.TPut
	var deletes []*hbase.TDelete
	var mixed []*hbase.TRowMutations
	for _, k := range order {
		rowMs := byRow[k]
		hasPut, hasDelete := false, false
		for _, m := range rowMs {
			hasPut = hasPut || len(m.Put) > 0
			hasDelete = hasDelete || m.DeleteRow || len(m.DeleteColumns) > 0
		}
		switch {
		case hasPut && !hasDelete:
			merged := map[string][]byte{}
			for _, m := range rowMs {
				for c, v := range m.Put {
					merged[c] = v
				}
			}
			p, err := tput([]byte(k), merged)
			if err != nil {
				return err
			}
			puts = append(puts, p)
		case hasDelete && !hasPut:
			for _, m := range rowMs {
				d, err := tdelete(m)
				if err != nil {
					return err
				}
				deletes = append(deletes, d)
			}
		case hasPut && hasDelete:
			rm := &hbase.TRowMutations{Row: []byte(k)}
			for _, m := range rowMs {
				if m.DeleteRow || len(m.DeleteColumns) > 0 {
					d, err := tdelete(m)
					if err != nil {
						return err
					}
					rm.Mutations = append(rm.Mutations, &hbase.TMutation{DeleteSingle: d})
				}
				if len(m.Put) > 0 {
					p, err := tput(m.Row, m.Put)
					if err != nil {
						return err
					}
					rm.Mutations = append(rm.Mutations, &hbase.TMutation{Put: p})
				}
			}
			mixed = append(mixed, rm)
		}
	}
	name := s.opts.table(table)
	if len(deletes) > 0 {
		if err := s.tableCall(ctx, "deleteMultiple on", table, func(c *hbase.THBaseServiceClient) error {
			_, err := c.DeleteMultiple(ctx, name, deletes)
			return err
		}); err != nil {
			return err
		}
	}
	if len(puts) > 0 {
		if err := s.tableCall(ctx, "putMultiple on", table, func(c *hbase.THBaseServiceClient) error {
			return c.PutMultiple(ctx, name, puts)
		}); err != nil {
			return err
		}
	}
	for _, rm := range mixed {
		if err := s.tableCall(ctx, "mutateRow on", table, func(c *hbase.THBaseServiceClient) error {
			return c.MutateRow(ctx, name, rm)
		}); err != nil {
			return err
		}
	}
	return nil
}

// scanBatch is how many rows one getScannerRows call asks for.
const scanBatch = 1000

// Scan reads rows through a scanner opened, read and closed on one
// connection.
func (s *Store) Scan(ctx context.Context, table string, sc readstore.Scan) ([]readstore.Row, error) {
	if !sc.Reverse && sc.Start != nil && sc.Stop != nil && bytes.Compare(sc.Start, sc.Stop) >= 0 ||
		sc.Reverse && sc.Start != nil && sc.Stop != nil && bytes.Compare(sc.Start, sc.Stop) <= 0 {
		return nil, nil
	}
	// NewTScan, not a literal: a literal's MaxVersions is 0, which the
	// generated code sends (it differs from the IDL default of 1) and real
	// HBase then returns rows without cells, that is no rows at all.
	ts := hbase.NewTScan()
	ts.StartRow, ts.StopRow = sc.Start, sc.Stop
	if sc.Reverse {
		ts.Reversed = thrift.BoolPtr(true)
	}
	batch := int32(scanBatch)
	if sc.Limit > 0 {
		ts.Limit = thrift.Int32Ptr(int32(sc.Limit))
		batch = min(batch, int32(sc.Limit))
	}
	ts.Caching = thrift.Int32Ptr(batch)
	var rows []readstore.Row
	// A scanner lives on one gateway connection: open, read and close it
	// there, and start again from the beginning if the connection fails.
	err := s.tableCall(ctx, "scan of", table, func(c *hbase.THBaseServiceClient) error {
		rows = rows[:0]
		id, err := c.OpenScanner(ctx, s.opts.table(table), ts)
		if err != nil {
			return err
		}
		defer func() { _ = c.CloseScanner(ctx, id) }()
		for {
			res, err := c.GetScannerRows(ctx, id, batch)
			if err != nil {
				return err
			}
			for _, r := range res {
				rows = append(rows, rowOf(nil, r))
			}
			if len(res) < int(batch) || sc.Limit > 0 && len(rows) >= sc.Limit {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if sc.Limit > 0 && len(rows) > sc.Limit {
		rows = rows[:sc.Limit]
	}
	return rows, nil
}
