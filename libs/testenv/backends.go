package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// Environment variables that point the tests at real servers (make
// test-real sets them): a Kafka bootstrap broker and an HBase Thrift2
// gateway, each host:port.
const (
	EnvKafka = "FALCON_TEST_KAFKA"
	EnvHBase = "FALCON_TEST_HBASE"
	// EnvRealScript is scripts/real/real.sh, for tests that start (and
	// kill) a real Kafka of their own.
	EnvRealScript = "FALCON_REAL_SCRIPT"
)

// RealKafka is the address of the real Kafka the tests share, if any.
func RealKafka() (string, bool) {
	a := os.Getenv(EnvKafka)
	return a, a != ""
}

// RealHBase is the address of the real HBase Thrift2 gateway the tests
// share, if any.
func RealHBase() (string, bool) {
	a := os.Getenv(EnvHBase)
	return a, a != ""
}

// Kafka returns the bootstrap address of the Kafka the test runs against:
// the real one of FALCON_TEST_KAFKA, shared by every test of the run (give
// topics and groups names from Name), else an embedded broker of the
// test's own.
func Kafka(t testing.TB) string {
	t.Helper()
	if a, ok := RealKafka(); ok {
		return a
	}
	return Broker(t)
}

// Name returns base with a random suffix: a topic, group or namespace name
// no other test, nor an earlier run against the same servers, uses. It
// contains only letters, digits and underscores, which every one of those
// names accepts.
func Name(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base + "_" + hex.EncodeToString(b)
}

// SkipUnlessReal skips a test that needs a real server, saying which and
// how to provide it: the embedded suite cannot run it.
func SkipUnlessReal(t testing.TB, env string) string {
	t.Helper()
	a := os.Getenv(env)
	if a == "" {
		t.Skipf("needs a real server: set %s=host:port (make test-real starts one and sets it)", env)
	}
	return a
}

// SkipIfReal skips a test that exists for the embedded servers only,
// saying why, when the run targets real ones.
func SkipIfReal(t testing.TB, why string) {
	t.Helper()
	if _, ok := RealKafka(); ok {
		t.Skipf("embedded servers only: %s", why)
	}
}
