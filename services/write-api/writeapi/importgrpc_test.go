package writeapi

import (
	"testing"
	"unsafe"
)

// TestAccountNamesAreSharedUpToTheirBound: the same legacy account id is
// one string for every call while the cache has room; past its bound, ids
// are still made text, just not kept.
func TestAccountNamesAreSharedUpToTheirBound(t *testing.T) {
	a := newAccountNames(2)
	for _, c := range []struct {
		id     uint64
		want   string
		shared bool
	}{
		{700, "700", true}, {18446744073709551615, "18446744073709551615", true}, {700, "700", true}, {4242, "4242", false},
	} {
		first, second := a.name(c.id), a.name(c.id)
		if first != c.want || second != c.want {
			t.Fatalf("account %d: %q and %q, want %q", c.id, first, second, c.want)
		}
		if shared := unsafe.StringData(first) == unsafe.StringData(second); shared != c.shared {
			t.Errorf("account %d: two calls share their text: %v, want %v", c.id, shared, c.shared)
		}
	}
}
