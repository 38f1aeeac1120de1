// Package drivers opens any read store of this project from its URL: the
// one list of store drivers the programs link.
package drivers

import (
	"context"

	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// All returns every driver: pebble:///path (one process only) and
// hbase+thrift://host:port (HBase's Thrift2 gateway, or falcon store).
func All() readstore.Drivers {
	return readstore.Drivers{"pebble": pebblestore.Driver, "hbase+thrift": hbasestore.Driver}
}

// Open opens the store a URL names, with any driver of All.
func Open(ctx context.Context, url string) (readstore.Store, error) { return All().Open(ctx, url) }
