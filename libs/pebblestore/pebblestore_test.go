package pebblestore_test

import (
	"testing"

	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore/storetest"
)

func TestPebbleContract(t *testing.T) {
	s, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Run(t, s)
}
