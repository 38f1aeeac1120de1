package hbasestore_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/hbaseserver"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/readstore/storetest"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// startServer runs the Thrift2 dev server over a fresh Pebble store.
func startServer(t testing.TB, framed bool) string { return testenv.ThriftStore(t, framed) }

func open(t testing.TB, raw string) *hbasestore.Store {
	t.Helper()
	u, _ := url.Parse(raw)
	o, err := hbasestore.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hbasestore.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	testenv.Eventually(t, 10*time.Second, "the thrift2 server", func() bool { return s.Ping(context.Background()) == nil })
	return s
}

// gateway is a Thrift2 gateway the tests run against, as a store URL with
// a namespace of the test's own.
type gateway struct{ name, url string }

// gateways are falcon store (buffered and framed) over a fresh Pebble
// store, and, under make test-real, Apache HBase's own Thrift2 gateway: the
// production client must see the same behaviour from each.
func gateways(t *testing.T) []gateway {
	gs := []gateway{
		{"falcon-store/buffered", "hbase+thrift://" + startServer(t, false) + "?transport=buffered&namespace=test"},
		{"falcon-store/framed", "hbase+thrift://" + startServer(t, true) + "?transport=framed&namespace=test"},
	}
	if addr, ok := testenv.RealHBase(); ok {
		gs = append(gs, gateway{"hbase", "hbase+thrift://" + addr + "?namespace=" + testenv.Name(t, "test")})
	} else {
		t.Logf("Apache HBase not tested here: set %s (make test-real does)", testenv.EnvHBase)
	}
	return gs
}

// openClean opens the gateway's store and drops its namespace when the
// test ends, so that a shared HBase does not fill with test tables.
func openClean(t *testing.T, raw string) *hbasestore.Store {
	t.Helper()
	s := open(t, raw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropNamespace(ctx); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	for _, g := range gateways(t) {
		t.Run(g.name, func(t *testing.T) {
			s := openClean(t, g.url)
			var tables []hbasestore.Table
			for name, fams := range storetest.Tables {
				tables = append(tables, hbasestore.Table{Name: name, Families: fams})
			}
			rep, err := s.EnsureTables(context.Background(), tables, hbase.TCompressionAlgorithm_NONE)
			if err != nil || len(rep.Created) != 2 {
				t.Fatalf("EnsureTables: %+v, %v", rep, err)
			}
			if again, err := s.EnsureTables(context.Background(), tables, hbase.TCompressionAlgorithm_NONE); err != nil ||
				len(again.Created)+len(again.Added)+len(again.Differs) != 0 {
				t.Fatalf("EnsureTables is not idempotent: %+v, %v", again, err)
			}
			storetest.Run(t, s)
		})
	}
}

// TestSchemaGrowsWithoutLosingData: a table that lacks a family gets it,
// its rows stay, and settings that differ are reported, not changed.
func TestSchemaGrowsWithoutLosingData(t *testing.T) {
	for _, g := range gateways(t) {
		t.Run(g.name, func(t *testing.T) {
			s := openClean(t, g.url)
			ctx := context.Background()
			if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(ctx, []readstore.Mutation{{Table: "t", Row: []byte("r"), Put: map[string][]byte{"d:v": []byte("1")}}}); err != nil {
				t.Fatal(err)
			}
			rep, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d", "e"}}}, hbase.TCompressionAlgorithm_GZ)
			if err != nil {
				t.Fatal(err)
			}
			_, ns, _ := strings.Cut(g.url, "namespace=")
			if want := []string{ns + ":t:e"}; !slices.Equal(rep.Added, want) || len(rep.Created) != 0 {
				t.Fatalf("EnsureTables added %v and created %v, want to add %v only", rep.Added, rep.Created, want)
			}
			if len(rep.Differs) != 1 || !strings.Contains(rep.Differs[0], "compression NONE, want GZ") {
				t.Fatalf("differences reported: %q", rep.Differs)
			}
			if err := s.Apply(ctx, []readstore.Mutation{{Table: "t", Row: []byte("r"), Put: map[string][]byte{"e:w": []byte("2")}}}); err != nil {
				t.Fatalf("a put to the added family: %v", err)
			}
			r, _, err := s.Get(ctx, "t", []byte("r"))
			if err != nil || string(r.Value("d:v")) != "1" || string(r.Value("e:w")) != "2" {
				t.Fatalf("row after the schema grew: %v, %v", r.Cells, err)
			}
		})
	}
}

func TestClearErrors(t *testing.T) {
	for _, g := range gateways(t) {
		t.Run(g.name, func(t *testing.T) { clearErrors(t, openClean(t, g.url)) })
	}
}

func clearErrors(t *testing.T, s *hbasestore.Store) {
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "nope", []byte("r")); !errors.Is(err, readstore.ErrNoTable) || !strings.Contains(err.Error(), "falcon store-init") {
		t.Fatalf("a get from a table that does not exist: %v, want ErrNoTable saying how to create it", err)
	}
	if _, err := s.Scan(ctx, "nope", readstore.Scan{}); !errors.Is(err, readstore.ErrNoTable) {
		t.Fatalf("a scan of a table that does not exist: %v, want ErrNoTable", err)
	}
	if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, []readstore.Mutation{{Table: "t", Row: []byte("r"), Put: map[string][]byte{"zz:q": []byte("v")}}})
	if err == nil || errors.Is(err, readstore.ErrNoTable) {
		t.Fatalf("a put to an unknown column family: %v, want an error other than a missing table", err)
	}
	if ok, err := s.Exists(ctx, "t", []byte("r")); ok || err != nil {
		t.Fatalf("the refused put left a row (exists %v, %v)", ok, err)
	}
	for _, bad := range []string{"hbase+thrift://host", "hbase+thrift://h:1?transport=http", "hbase+thrift://h:1?pool=0", "hbase+thrift://h:1?timeout=-1s",
		"hbase+thrift://h:1?tls=yes", "hbase+thrift://h:1?tls_ca=/ca.pem"} {
		u, _ := url.Parse(bad)
		if _, err := hbasestore.ParseURL(u); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	u, _ := url.Parse("hbase+thrift://h:1?tls=true&tls_ca=/ca.pem&tls_server_name=hbase-thrift")
	if o, err := hbasestore.ParseURL(u); err != nil || o.TLS == nil || o.TLS.CAFile != "/ca.pem" || o.TLS.ServerName != "hbase-thrift" ||
		o.URL() != "hbase+thrift://h:1?namespace=falcon&tls=true&tls_ca=%2Fca.pem&tls_server_name=hbase-thrift" {
		t.Errorf("TLS settings of %s: %+v %v", u, o, err)
	}
	if err := s.DropTable(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "t", []byte("r")); !errors.Is(err, readstore.ErrNoTable) {
		t.Fatalf("the dropped table still answers: %v", err)
	}
}

func TestReconnectsAfterTheServerRestarts(t *testing.T) {
	p, err := pebblestore.Open(t.TempDir())
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
		go func() { done <- hbaseserver.Serve(ctx, addr, h, hbaseserver.Options{}) }()
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
	if !ok || string(r.Value("d:v")) != "1" {
		t.Fatalf("after the restart: %v %v", r, ok)
	}
}

// TestClientMetrics: every Thrift call is timed and counted by method and
// outcome, so that an SRE sees the gateway's latency and errors.
func TestClientMetrics(t *testing.T) {
	s := open(t, "hbase+thrift://"+startServer(t, false)+"?namespace=metrics")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	ctx := context.Background()
	if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "t", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "t", []byte("r")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "nope", []byte("r")); !errors.Is(err, readstore.ErrNoTable) {
		t.Fatal(err)
	}
	calls := map[string]float64{}
	timed := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			switch mf.GetName() {
			case "falcon_hbase_client_calls_total":
				calls[l["op"]+" "+l["outcome"]] += m.GetCounter().GetValue()
			case "falcon_hbase_client_call_duration_seconds":
				timed[l["op"]] += m.GetHistogram().GetSampleCount()
			}
		}
	}
	for key, want := range map[string]float64{"get ok": 1, "get hbase_error": 1} {
		if calls[key] != want {
			t.Errorf("calls %q = %v, want %v (all: %v)", key, calls[key], want, calls)
		}
	}
	if timed["get"] != 2 {
		t.Errorf("timed gets: %d, want 2 (%v)", timed["get"], timed)
	}
}
