package eventlog_test

import (
	"reflect"
	"testing"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// FuzzDecode: any record value either fails to decode with an error or
// decodes to an event that encodes and decodes to the same event: what
// consumers read from the log is never misread, whatever is in it.
func FuzzDecode(f *testing.F) {
	for _, e := range testenv.EveryEventType(f) {
		b, err := eventlog.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := eventlog.Decode(b)
		if err != nil {
			return
		}
		again, err := eventlog.Encode(e)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", e, err)
		}
		e2, err := eventlog.Decode(again)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", e, e2, err)
		}
	})
}
