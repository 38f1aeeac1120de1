package hbasestore_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/hbaseserver"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/readstore/storetest"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// startServer runs the Thrift2 dev server over a fresh Pebble store.
func startServer(t testing.TB, framed bool) string {
	t.Helper()
	p, err := readstore.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hbaseserver.NewHandler(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hbaseserver.Serve(ctx, addr, h, framed) }()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return addr
}

func open(t testing.TB, raw string) *hbasestore.Store {
	t.Helper()
	u, _ := url.Parse(raw)
	o, err := hbasestore.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	var s *hbasestore.Store
	testenv.Eventually(t, 10*time.Second, "the thrift2 server", func() bool {
		s, err = hbasestore.Open(context.Background(), o)
		return err == nil
	})
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContractThroughThrift2(t *testing.T) {
	for _, transport := range []string{"buffered", "framed"} {
		t.Run(transport, func(t *testing.T) {
			addr := startServer(t, transport == "framed")
			s := open(t, "hbase+thrift://"+addr+"?transport="+transport+"&namespace=test")
			var tables []hbasestore.Table
			for name, fams := range storetest.Tables {
				tables = append(tables, hbasestore.Table{Name: name, Families: fams})
			}
			created, err := s.EnsureTables(context.Background(), tables, hbase.TCompressionAlgorithm_NONE)
			if err != nil || len(created) != 2 {
				t.Fatalf("EnsureTables: created %v, %v", created, err)
			}
			if again, err := s.EnsureTables(context.Background(), tables, hbase.TCompressionAlgorithm_NONE); err != nil || len(again) != 0 {
				t.Fatalf("EnsureTables is not idempotent: created %v, %v", again, err)
			}
			storetest.Run(t, s)
		})
	}
}

func TestClearErrors(t *testing.T) {
	addr := startServer(t, false)
	s := open(t, "hbase+thrift://"+addr+"?namespace=x")
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "nope", []byte("r")); err == nil {
		t.Fatal("a get from a table that does not exist succeeded")
	}
	if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, []readstore.Mutation{{Table: "t", Row: []byte("r"), Put: map[string][]byte{"zz:q": []byte("v")}}})
	if err == nil {
		t.Fatal("a put to an unknown column family succeeded")
	}
	if ok, err := s.Exists(ctx, "t", []byte("r")); ok || err != nil {
		t.Fatalf("the refused put left a row (exists %v, %v)", ok, err)
	}
	for _, bad := range []string{"hbase+thrift://host", "hbase+thrift://h:1?transport=http", "hbase+thrift://h:1?pool=0", "hbase+thrift://h:1?timeout=-1s"} {
		u, _ := url.Parse(bad)
		if _, err := hbasestore.ParseURL(u); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if err := s.DropTable(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "t", []byte("r")); err == nil {
		t.Fatal("the dropped table still answers")
	}
}

func TestReconnectsAfterTheServerRestarts(t *testing.T) {
	p, err := readstore.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr := testenv.FreeAddr(t)
	serve := func() (stop func()) {
		h, err := hbaseserver.NewHandler(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- hbaseserver.Serve(ctx, addr, h, false) }()
		return func() { cancel(); <-done }
	}
	stop := serve()
	s := open(t, "hbase+thrift://"+addr+"?namespace=r&retries=20&timeout=1s")
	ctx := context.Background()
	if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, []readstore.Mutation{{Table: "t", Row: []byte("r"), Put: map[string][]byte{"d:v": []byte("1")}}}); err != nil {
		t.Fatal(err)
	}
	stop()
	stop = serve()
	defer stop()
	var r readstore.Row
	var ok bool
	testenv.Eventually(t, 10*time.Second, "a read after the restart", func() bool {
		r, ok, err = s.Get(ctx, "t", []byte("r"))
		return err == nil
	})
	if !ok || string(r.Cells["d:v"]) != "1" {
		t.Fatalf("after the restart: %v %v", r, ok)
	}
}
