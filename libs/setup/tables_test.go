package setup_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/setup"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// stores are falcon store over a fresh Pebble store and, under make
// test-real, Apache HBase: store URLs with a namespace of the test's own.
func stores(t *testing.T) map[string]string {
	addr := testenv.ThriftStore(t, false)
	out := map[string]string{"falcon-store": "hbase+thrift://" + addr + "?namespace=falcon"}
	if real, ok := testenv.RealHBase(); ok {
		out["hbase"] = "hbase+thrift://" + real + "?namespace=" + testenv.Name(t, "falcon")
	}
	return out
}

func TestCreatesEveryReadModelTableOnce(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := setup.TablesConfig{Store: store, Compression: "none", Timeout: time.Minute}
			var first, second bytes.Buffer
			if err := setup.Tables(context.Background(), cfg, testenv.Logger(t), &first); err != nil {
				t.Fatal(err)
			}
			for table := range readmodel.Tables {
				if !strings.Contains(first.String(), "created table ") || !strings.Contains(first.String(), ":"+table+"\n") {
					t.Errorf("store-init did not say it created %s:\n%s", table, first.String())
				}
			}
			if err := setup.Tables(context.Background(), cfg, testenv.Logger(t), &second); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(second.String(), "created table") || strings.Contains(second.String(), "added column family") ||
				!strings.Contains(second.String(), "0 tables created, 0 column families added") {
				t.Fatalf("a second run changed something:\n%s", second.String())
			}
			// The tables are the ones the read models use: a projection and
			// a query go through.
			u, _ := url.Parse(store)
			o, _ := hbasestore.ParseURL(u)
			s, err := hbasestore.Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			t.Cleanup(func() { _ = s.DropNamespace(context.Background()) })
			h := testenv.NewHistory(t)
			h.Do("01JD0000000000000000000001", "alice", domain.CreateThread{Title: "t", MemberIDs: []string{"bob"}})
			if _, err := readmodel.NewProjector(s).Apply(context.Background(), h.Events); err != nil {
				t.Fatalf("projecting into the new tables: %v", err)
			}
			if _, err := readmodel.LoadState(context.Background(), s); err != nil {
				t.Fatalf("the generation pointer: %v", err)
			}
			if th, ok, err := readmodel.NewReader(s).Thread(context.Background(), "01JD0000000000000000000001"); err != nil || !ok || th.Title != "t" {
				t.Fatalf("reading the thread back: %+v %v %v", th, ok, err)
			}
		})
	}
}

func TestSaysWhichStoreItCannotReach(t *testing.T) {
	addr := testenv.FreeAddr(t)
	err := setup.Tables(context.Background(), setup.TablesConfig{Store: "hbase+thrift://" + addr, Compression: "NONE", Timeout: time.Second},
		testenv.Logger(t), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("store-init against nothing: %v", err)
	}
	if err := setup.Tables(context.Background(), setup.TablesConfig{Store: "hbase+thrift://" + addr, Compression: "BROTLI", Timeout: time.Second},
		testenv.Logger(t), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--compression") {
		t.Fatalf("an unknown compression: %v", err)
	}
}
