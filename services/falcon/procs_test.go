package main_test

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// binaries builds the programs once per test binary.
var binaries struct {
	once      sync.Once
	err       error
	dir       string
	falcon    string
	forwarder string
	writeAPI  string
	updater   string
	readAPI   string
}

// TestMain removes the programs the tests built: a quarter of a gigabyte
// each run, which no t.TempDir owns because they are shared by every test.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

func buildBinaries(t *testing.T) (falcon, forwarder string) {
	t.Helper()
	binaries.once.Do(func() {
		dir, err := filepathTemp()
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir = dir
		binaries.falcon = filepath.Join(dir, "falcon")
		binaries.forwarder = filepath.Join(dir, "sparrow-forwarder")
		binaries.writeAPI = filepath.Join(dir, "write-api")
		binaries.updater = filepath.Join(dir, "read-model-updater")
		binaries.readAPI = filepath.Join(dir, "read-api")
		for out, pkg := range map[string]string{
			binaries.falcon:    ".",
			binaries.forwarder: "github.com/falcon-chat/falcon/services/sparrow-forwarder",
			binaries.writeAPI:  "github.com/falcon-chat/falcon/services/write-api",
			binaries.updater:   "github.com/falcon-chat/falcon/services/read-model-updater",
			binaries.readAPI:   "github.com/falcon-chat/falcon/services/read-api",
		} {
			if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				binaries.err = &buildError{pkg: pkg, out: string(b), err: err}
				return
			}
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.falcon, binaries.forwarder
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// proc is a program the test started; it is killed at cleanup.
type proc struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), logs: &lockedBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s %v output:\n%s", filepath.Base(name), args, p.logs.String())
		}
	})
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "a listener on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func waitReady(t *testing.T, httpAddr string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, "ready at "+httpAddr, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// backend is the Kafka and read store a process test runs against: falcon
// broker and falcon store processes of the test's own, or the real Kafka
// and HBase of make test-real (FALCON_TEST_KAFKA, FALCON_TEST_HBASE), shared
// by every test, so each test names its topic, groups and HBase namespace
// itself.
type backend struct {
	kafka string
	topic string
	// store is the read store URL (startReadStore).
	store string
	// broker is the falcon broker process, nil on real Kafka.
	broker *proc
}

// startKafka builds the binaries and returns the test's Kafka.
func startKafka(t *testing.T) *backend {
	t.Helper()
	buildBinaries(t)
	b := &backend{topic: testenv.Name(t, "events")}
	if addr, ok := testenv.RealKafka(); ok {
		b.kafka = addr
		return b
	}
	b.kafka = testenv.FreeAddr(t)
	b.broker = startProc(t, binaries.falcon, "broker", "--data-dir", t.TempDir(), "--kafka-addr", b.kafka)
	waitListening(t, b.kafka)
	return b
}

// writeArgs, updaterArgs, readArgs and forwarderArgs point a service at the test's
// Kafka, topic and a consumer group of the test's own.
func (b *backend) writeArgs(extra ...string) []string {
	return append([]string{"--kafka-brokers", b.kafka, "--topic", b.topic, "--write-group", b.topic + "_writers",
		"--replica-secret", "test-replica-secret", "--auth", "dev"}, extra...)
}

func (b *backend) updaterArgs(extra ...string) []string {
	return append([]string{"--kafka-brokers", b.kafka, "--topic", b.topic, "--group", b.topic + "_updater", "--store", b.store}, extra...)
}

// readArgs points read-api at the test's store, and its stream at the
// test's Kafka and topic.
func (b *backend) readArgs(extra ...string) []string {
	return append([]string{"--kafka-brokers", b.kafka, "--topic", b.topic, "--store", b.store, "--auth", "dev"}, extra...)
}

func (b *backend) forwarderArgs(extra ...string) []string {
	return append([]string{"--kafka-brokers", b.kafka, "--topic", b.topic, "--group", b.topic + "_forwarder"}, extra...)
}
