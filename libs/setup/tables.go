// Package setup creates what Falcon needs outside itself, from the same
// definitions the services use: the read-model tables on HBase (`falcon
// store-init`) and the Kafka topics (`falcon topics-init`). Both wait for
// their server while it starts, and are idempotent: they create what is
// missing and change nothing that exists.
package setup

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/retry"
)

// TablesConfig is store-init's configuration block.
type TablesConfig struct {
	Store       string
	Compression string
	Timeout     time.Duration
}

// RegisterFlags adds store-init's flags to fs with their defaults.
func (c *TablesConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Store, "store", "hbase+thrift://127.0.0.1:9095", "read store URL: hbase+thrift://host:port[?namespace=falcon]")
	fs.StringVar(&c.Compression, "compression", "NONE", "compression of new column families: NONE, SNAPPY, LZ4, ZSTD, GZ")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Minute, "how long to keep trying while HBase is unreachable or starting")
}

// ReadModelTables is every read-model table as HBase creates it, in name
// order.
func ReadModelTables() []hbasestore.Table {
	names := make([]string, 0, len(readmodel.Tables))
	for name := range readmodel.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	tables := make([]hbasestore.Table, 0, len(names))
	for _, name := range names {
		tables = append(tables, hbasestore.Table{Name: name, Families: readmodel.Tables[name], Splits: readmodel.Splits(name)})
	}
	return tables
}

// Tables makes an HBase read store's schema what the read models need
// (libs/readmodel is the one definition of tables and column families):
// it creates missing tables, adds missing column families and reports,
// without changing, families whose settings differ. It retries until HBase
// takes the schema or the timeout passes, and writes what it did to out.
func Tables(ctx context.Context, cfg TablesConfig, log *zap.Logger, out io.Writer) error {
	algo, err := hbase.TCompressionAlgorithmFromString(strings.ToUpper(cfg.Compression))
	if err != nil {
		return fmt.Errorf("--compression=%q: %w", cfg.Compression, err)
	}
	u, err := url.Parse(cfg.Store)
	if err != nil {
		return fmt.Errorf("--store=%q: %w", cfg.Store, err)
	}
	if u.Scheme == "pebble" {
		fmt.Fprintln(out, "pebble stores need no tables")
		return nil
	}
	opts, err := hbasestore.ParseURL(u)
	if err != nil {
		return err
	}
	s, err := hbasestore.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	tables := ReadModelTables()
	var rep hbasestore.SchemaReport
	// HBase may still be starting (a Job runs beside it): keep trying.
	err = retry.Until(ctx, log, "creating the read-model schema on HBase at "+opts.Addr, retry.Default, nil, func(ctx context.Context) (err error) {
		rep, err = s.EnsureTables(ctx, tables, algo)
		return err
	})
	for _, c := range rep.Created {
		fmt.Fprintln(out, "created table", c)
	}
	for _, a := range rep.Added {
		fmt.Fprintln(out, "added column family", a)
	}
	for _, d := range rep.Differs {
		fmt.Fprintln(out, "left as it is:", d)
	}
	if err != nil {
		return fmt.Errorf("read-model schema on HBase at %s: %w", opts.Addr, err)
	}
	fmt.Fprintf(out, "schema ready in %s: %d tables created, %d column families added, %d tables already there\n",
		opts.URL(), len(rep.Created), len(rep.Added), len(tables)-len(rep.Created))
	return nil
}
