package pebblestore

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// TestSyncMakesVisibleWritesDurable crashes a store on a file system that
// keeps only what was synced: a write made visible and then synced
// survives, one made visible after the last sync is readable until the
// crash and gone after it (which is why the updater marks its offsets only
// after a Sync).
func TestSyncMakesVisibleWritesDurable(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	opts := func(fs vfs.FS) *pebble.Options {
		o := options()
		o.FS = fs
		return o
	}
	s, err := open("db", opts(fs))
	if err != nil {
		t.Fatal(err)
	}
	put := func(row string) {
		t.Helper()
		if err := s.ApplyVisible(ctx, []readstore.Mutation{{Table: "t", Row: []byte(row), Put: map[string][]byte{"d:v": []byte(row)}}}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(s *Store, row string) bool {
		t.Helper()
		_, ok, err := s.Get(ctx, "t", []byte(row))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	put("synced")
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	put("unsynced")
	if !has(s, "synced") || !has(s, "unsynced") {
		t.Fatal("a visible write is not readable before the crash")
	}

	crashed := fs.CrashClone(vfs.CrashCloneCfg{}) // exactly what was synced
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = open("db", opts(crashed))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !has(s, "synced") {
		t.Error("a write synced before the crash is gone")
	}
	if has(s, "unsynced") {
		t.Error("a write never synced survived the crash: the test's crash keeps too much to show anything")
	}
}
