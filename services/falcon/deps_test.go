package main_test

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// readyz returns the status and body of a service's /readyz.
func readyz(httpAddr string) (int, string) {
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitNotReadyBecause waits until the service answers /readyz with 503 and
// a reason containing every one of want, and checks it is still running.
func waitNotReadyBecause(t *testing.T, name string, p *proc, httpAddr string, want ...string) {
	t.Helper()
	var body string
	testenv.Eventually(t, 30*time.Second, name+" saying why it is not ready", func() bool {
		code, b := readyz(httpAddr)
		body = b
		if code != http.StatusServiceUnavailable {
			return false
		}
		for _, w := range want {
			if !strings.Contains(b, w) {
				return false
			}
		}
		return true
	})
	if p.cmd.ProcessState != nil {
		t.Fatalf("%s exited: %v", name, p.cmd.ProcessState)
	}
	t.Logf("%s: %s", name, strings.TrimSpace(body))
}

// TestServicesWaitForTheirDependencies starts every service before Kafka
// and the read store exist. Each stays up, not ready, naming the address it
// cannot reach; once Kafka and the store are up, read-api and the updater
// name the missing table and the command that creates it; after falcon
// store-init every service is ready.
func TestServicesWaitForTheirDependencies(t *testing.T) {
	testenv.SkipIfReal(t, "it starts Kafka and the store late, on addresses of its own; the waiting is the services' own, the same for any broker")
	if testing.Short() {
		t.Skip("runs processes")
	}
	buildBinaries(t)
	b := &binaries
	be := &backend{kafka: testenv.FreeAddr(t), topic: testenv.Name(t, "events")}
	storeAddr := testenv.FreeAddr(t)
	be.store = "hbase+thrift://" + storeAddr + "?namespace=late&timeout=1s"
	quiet := []string{"--log-level", "error"}
	wHTTP, uHTTP, fHTTP, rHTTP := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	w := startProc(t, b.writeAPI, be.writeArgs(append([]string{"--partitions", "2", "--grpc-addr", testenv.FreeAddr(t), "--http-addr", wHTTP, "--metrics-addr", testenv.FreeAddr(t)}, quiet...)...)...)
	u := startProc(t, b.updater, be.updaterArgs(append([]string{"--http-addr", uHTTP}, quiet...)...)...)
	f := startProc(t, b.forwarder, be.forwarderArgs(append([]string{"--http-addr", fHTTP, "--legacy-url", "http://" + testenv.FreeAddr(t) + "/events"}, quiet...)...)...)
	r := startProc(t, b.readAPI, be.readArgs(append([]string{"--grpc-addr", testenv.FreeAddr(t), "--http-addr", rHTTP,
		"--metrics-addr", testenv.FreeAddr(t)}, quiet...)...)...)

	waitNotReadyBecause(t, "write-api", w, wHTTP, be.kafka, "connection refused")
	waitNotReadyBecause(t, "read-model-updater", u, uHTTP, be.kafka, "connection refused")
	waitNotReadyBecause(t, "sparrow-forwarder", f, fHTTP, be.kafka, "connection refused")
	waitNotReadyBecause(t, "read-api", r, rHTTP, storeAddr, "connection refused")

	startProc(t, b.falcon, "broker", "--data-dir", t.TempDir(), "--kafka-addr", be.kafka)
	waitReady(t, wHTTP)
	waitReady(t, fHTTP)
	waitNotReadyBecause(t, "read-model-updater", u, uHTTP, storeAddr, "connection refused")

	startProc(t, b.falcon, "store", "--data-dir", t.TempDir(), "--addr", storeAddr)
	waitNotReadyBecause(t, "read-model-updater", u, uHTTP, "late:meta", "falcon store-init --store hbase+thrift://"+storeAddr)
	waitNotReadyBecause(t, "read-api", r, rHTTP, "late:meta", "falcon store-init")

	if out, err := exec.Command(b.falcon, "store-init", "--store", be.store).CombinedOutput(); err != nil {
		t.Fatalf("store-init: %v\n%s", err, out)
	}
	waitReady(t, uHTTP)
	waitReady(t, rHTTP)
}

// ownKafka is a Kafka the test alone uses, so that it can kill it: falcon
// broker, or under make test-real a real Kafka node of its own, started with
// scripts/real/real.sh kafka-run on free ports.
type ownKafka struct {
	t     *testing.T
	addr  string
	cport string
	dir   string
	proc  *proc
}

func startOwnKafka(t *testing.T) *ownKafka {
	t.Helper()
	buildBinaries(t)
	k := &ownKafka{t: t, addr: testenv.FreeAddr(t), dir: t.TempDir()}
	_, k.cport, _ = net.SplitHostPort(testenv.FreeAddr(t))
	k.start()
	return k
}

func (k *ownKafka) start() {
	k.t.Helper()
	if _, real := testenv.RealKafka(); real {
		_, port, _ := net.SplitHostPort(k.addr)
		script, _ := filepath.Abs("../../scripts/real/real.sh")
		k.proc = startProc(k.t, "bash", script, "kafka-run", k.dir, port, k.cport)
	} else {
		k.proc = startProc(k.t, binaries.falcon, "broker", "--data-dir", k.dir, "--kafka-addr", k.addr)
	}
	if out, err := exec.Command(binaries.falcon, "probe", "--kafka", k.addr, "--timeout", "2m").CombinedOutput(); err != nil {
		k.t.Fatalf("Kafka at %s did not come up: %v\n%s", k.addr, err, out)
	}
}

// TestKafkaKilledUnderLoad SIGKILLs the broker while two write-api
// replicas take commands, and starts it again on the same data: every
// acknowledged command is in the topic exactly once, every thread's
// versions have no gap, and write-api is ready again within 30 s of the
// broker.
func TestKafkaKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	k := startOwnKafka(t)
	be := &backend{kafka: k.addr, topic: testenv.Name(t, "events")}
	replicas := []*writeReplica{{}, {}}
	for _, r := range replicas {
		startWriteReplica(t, be, r)
	}
	for _, r := range replicas {
		waitReady(t, r.httpAddr)
	}
	threads := createThreads(t, replicas, 8)
	load := &commandLoad{answers: map[string]answer{}}
	finished := make(chan struct{})
	const clients, each = 8, 400
	go func() { load.run(replicas, threads, clients, each); close(finished) }()
	testenv.Eventually(t, 60*time.Second, "commands flowing", func() bool { return load.done.Load() >= 300 })

	k.proc.kill()
	if n := load.done.Load(); n >= clients*each {
		t.Fatalf("all %d commands were answered before the kill; the test proves nothing", n)
	}
	time.Sleep(2 * time.Second) // clients keep trying against a dead broker
	k.start()
	back := time.Now()
	for _, r := range replicas {
		testenv.Eventually(t, 30*time.Second, "write-api ready within 30s of the broker", func() bool {
			code, _ := readyz(r.httpAddr)
			return code == http.StatusOK
		})
	}
	t.Logf("both replicas ready %s after the broker came back", time.Since(back).Round(100*time.Millisecond))
	<-finished
	if c := load.conflict.Load(); c != nil {
		t.Fatal(c)
	}
	if len(load.answers) != clients*each {
		t.Fatalf("%d of %d commands were answered", len(load.answers), clients*each)
	}
	checkTopic(t, be, load.answers)
}
