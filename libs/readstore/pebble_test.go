package readstore_test

import (
	"testing"

	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/readstore/storetest"
)

func TestPebbleContract(t *testing.T) {
	s, err := readstore.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Run(t, s)
}
