package hbasestore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// BenchmarkScanPage reads a 50-row page, newest first, through the Thrift2
// client and falcon store's server, on loopback.
func BenchmarkScanPage(b *testing.B) {
	addr := startServer(b, false)
	s := open(b, "hbase+thrift://"+addr+"?namespace=bench")
	ctx := context.Background()
	if _, err := s.EnsureTables(ctx, []hbasestore.Table{{Name: "m", Families: []string{"d"}}}, hbase.TCompressionAlgorithm_NONE); err != nil {
		b.Fatal(err)
	}
	var ms []readstore.Mutation
	for i := 0; i < 1000; i++ {
		ms = append(ms, readstore.Mutation{Table: "m", Row: []byte(fmt.Sprintf("t1%06d", i)), Put: map[string][]byte{
			"d:body": []byte("a message of ordinary length"), "d:sender": []byte("alice"), "d:version": []byte("12")}})
	}
	if err := s.Apply(ctx, ms); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := s.Scan(ctx, "m", readstore.Scan{Start: []byte("t1\xff"), Stop: []byte("t1"), Reverse: true, Limit: 50})
		if err != nil || len(rows) != 50 {
			b.Fatal(len(rows), err)
		}
	}
}
