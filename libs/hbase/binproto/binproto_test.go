package binproto

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
)

// prefix writes the start of a putMultiple call's arguments with write,
// which declares something large and then stops: the bytes an attacker
// sends before going quiet.
func prefix(t *testing.T, write func(p thrift.TProtocol) error) []byte {
	t.Helper()
	var buf thrift.TMemoryBuffer
	buf.Buffer = new(bytes.Buffer)
	p := thrift.NewTBinaryProtocolConf(&buf, nil)
	ctx := context.Background()
	if err := p.WriteStructBegin(ctx, "putMultiple_args"); err != nil {
		t.Fatal(err)
	}
	if err := write(p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// allocated is how many bytes read allocates while decoding in.
func allocated(in []byte, prot func(thrift.TTransport) thrift.TProtocol) (uint64, error) {
	trans := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(in)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := hbase.NewTHBaseServicePutMultipleArgs().Read(context.Background(), prot(trans))
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// trusting is the weakened configuration: the library's protocol (which
// lets generated code allocate a declared collection length) with a
// ReadBinary that allocates the declared size, as this package once did.
type trusting struct {
	*thrift.TBinaryProtocol
	trans thrift.TTransport
}

func (p *trusting) ReadBinary(ctx context.Context) ([]byte, error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	_, err = io.ReadFull(p.trans, buf)
	return buf, err
}

// TestDeclaredSizesAreNotTrusted: a field, string or collection that
// declares a large length and then sends nothing makes us allocate next to
// nothing and fails; the library's own protocol (the weakened
// configuration) allocates what was declared.
func TestDeclaredSizesAreNotTrusted(t *testing.T) {
	ctx := context.Background()
	const declared = 60 << 20
	cases := []struct {
		name  string
		write func(p thrift.TProtocol) error
	}{
		{"binary field", func(p thrift.TProtocol) error {
			if err := p.WriteFieldBegin(ctx, "table", thrift.STRING, 1); err != nil {
				return err
			}
			return p.WriteI32(ctx, declared)
		}},
		{"list of structs", func(p thrift.TProtocol) error {
			if err := p.WriteFieldBegin(ctx, "tputs", thrift.LIST, 2); err != nil {
				return err
			}
			return p.WriteListBegin(ctx, thrift.STRUCT, declared/8)
		}},
		{"list inside each of a list's elements", func(p thrift.TProtocol) error {
			if err := p.WriteFieldBegin(ctx, "tputs", thrift.LIST, 2); err != nil {
				return err
			}
			if err := p.WriteListBegin(ctx, thrift.STRUCT, 4); err != nil {
				return err
			}
			if err := p.WriteFieldBegin(ctx, "columnValues", thrift.LIST, 2); err != nil {
				return err
			}
			return p.WriteListBegin(ctx, thrift.STRUCT, declared/8)
		}},
	}
	conf := &thrift.TConfiguration{MaxMessageSize: 100 << 20}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := prefix(t, c.write)
			got, err := allocated(in, func(tr thrift.TTransport) thrift.TProtocol { return New(tr, conf) })
			if err == nil {
				t.Fatal("a truncated message decoded")
			}
			if got > 4<<20 {
				t.Errorf("%d bytes sent made us allocate %d MB", len(in), got>>20)
			}
			weak, _ := allocated(in, func(tr thrift.TTransport) thrift.TProtocol {
				return &trusting{thrift.NewTBinaryProtocolConf(tr, conf), tr}
			})
			if weak < 32<<20 {
				t.Errorf("a protocol that trusts declared sizes allocated only %d MB: the case no longer shows the attack", weak>>20)
			}
		})
	}
}

// TestDecodesWhatItIsSent: the protocol reads well-formed messages of all
// sizes, across chunk boundaries, the same as the library's.
func TestDecodesWhatItIsSent(t *testing.T) {
	ctx := context.Background()
	args := hbase.NewTHBaseServicePutMultipleArgs()
	args.Table = []byte("falcon:messages")
	for i := range 3000 {
		put := &hbase.TPut{Row: bytes.Repeat([]byte{byte(i)}, i%300)}
		for j := range i % 7 {
			put.ColumnValues = append(put.ColumnValues, &hbase.TColumnValue{Family: []byte("d"), Qualifier: []byte{byte(j)}, Value: bytes.Repeat([]byte("v"), j*1000)})
		}
		args.Tputs = append(args.Tputs, put)
	}
	buf := &thrift.TMemoryBuffer{Buffer: new(bytes.Buffer)}
	if err := args.Write(ctx, thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	encoded := bytes.Clone(buf.Bytes())
	got := hbase.NewTHBaseServicePutMultipleArgs()
	if err := got.Read(ctx, New(buf, &thrift.TConfiguration{})); err != nil {
		t.Fatal(err)
	}
	again := &thrift.TMemoryBuffer{Buffer: new(bytes.Buffer)}
	if err := got.Write(ctx, thrift.NewTBinaryProtocolConf(again, nil)); err != nil {
		t.Fatal(err)
	}
	if len(got.Tputs) != len(args.Tputs) || !bytes.Equal(again.Bytes(), encoded) {
		t.Fatal("decoded arguments differ from those written")
	}
}

// FuzzDecode: the calls a server reads, decoded from any bytes, succeed or
// fail with an error, and never allocate much more than what arrived.
func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	args := hbase.NewTHBaseServicePutMultipleArgs()
	args.Table = []byte("falcon:threads")
	args.Tputs = []*hbase.TPut{{Row: []byte("r"), ColumnValues: []*hbase.TColumnValue{{Family: []byte("d"), Qualifier: []byte("q"), Value: []byte("v")}}}}
	buf := &thrift.TMemoryBuffer{Buffer: new(bytes.Buffer)}
	if err := args.Write(ctx, thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	scan := hbase.NewTHBaseServiceOpenScannerArgs()
	scan.Table, scan.Tscan = []byte("falcon:messages"), hbase.NewTScan()
	buf.Reset()
	if err := scan.Write(ctx, thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff})
	conf := &thrift.TConfiguration{MaxMessageSize: MaxMessageSize}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, read := range []func(thrift.TProtocol) error{
			func(p thrift.TProtocol) error { return hbase.NewTHBaseServicePutMultipleArgs().Read(ctx, p) },
			func(p thrift.TProtocol) error { return hbase.NewTHBaseServiceOpenScannerArgs().Read(ctx, p) },
			func(p thrift.TProtocol) error { return hbase.NewTHBaseServiceGetMultipleArgs().Read(ctx, p) },
			func(p thrift.TProtocol) error { return hbase.NewTHBaseServiceMutateRowArgs().Read(ctx, p) },
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_ = read(New(&thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(in)}, conf))
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(64*len(in))+1<<20 {
				t.Fatalf("%d bytes made the reader allocate %d", len(in), got)
			}
		}
	})
}
