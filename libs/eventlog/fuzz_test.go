package eventlog_test

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// FuzzDecode: any record value either fails to decode with an error or
// decodes to an event that encodes and decodes to the same event: what
// consumers read from the log is never misread, whatever is in it.
func FuzzDecode(f *testing.F) {
	addEveryEventType(f)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := eventlog.Decode(b); err == nil {
			reencodes(t, e)
		}
	})
}

// reencodes checks that e encodes, and decodes back to itself.
func reencodes(t *testing.T, e domain.Event) {
	t.Helper()
	again, err := eventlog.Encode(e)
	if err != nil {
		t.Fatalf("decoded %+v does not encode: %v", e, err)
	}
	e2, err := eventlog.Decode(again)
	if err != nil || !reflect.DeepEqual(e, e2) {
		t.Fatalf("%+v re-encoded decodes to %+v, %v", e, e2, err)
	}
}

// FuzzDecodeEvents: the same for records of runs, and a run never hands
// out an event that does not encode and decode to itself.
func FuzzDecodeEvents(f *testing.F) {
	addEveryEventType(f)
	f.Add(importedRunValue(f))
	f.Add([]byte{0xca, 0x03, 0x02, 0x0a, 0x00}) // a run of one empty envelope
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = eventlog.DecodeEvents(b, func(e domain.Event, err error) error {
			if err == nil {
				reencodes(t, e)
			}
			return nil
		})
	})
}

// importedRunValue is a run of every event type, built with the generated
// code rather than the writer's.
func importedRunValue(f *testing.F) []byte {
	run := &falconv1.ImportedRun{}
	for _, e := range testenv.EveryEventType(f) {
		env, err := eventlog.ToProto(e)
		if err != nil {
			f.Fatal(err)
		}
		run.Events = append(run.Events, env)
	}
	b, err := proto.Marshal(&falconv1.EventEnvelope{Imported: true, Payload: &falconv1.EventEnvelope_ImportedRun{ImportedRun: run}})
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// addEveryEventType seeds f with a record of each event type.
func addEveryEventType(f *testing.F) {
	for _, e := range testenv.EveryEventType(f) {
		b, err := eventlog.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
