package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestOpenAPIContract runs schemathesis (from PyPI; make test installs it
// and sets FALCON_SCHEMATHESIS) against falcon dev's /openapi.json: a few
// hundred requests generated from the document, valid and not, each of
// which must get an answer that is not a server error and that matches the
// document (status, content type, schema).
func TestOpenAPIContract(t *testing.T) {
	st := os.Getenv("FALCON_SCHEMATHESIS")
	if st == "" {
		t.Skip("FALCON_SCHEMATHESIS is not set: `make test` installs schemathesis and sets it")
	}
	testenv.SkipIfReal(t, "the contract is the API's, whatever the backends")
	p := startDev(t, buildFalcon(t), t.TempDir())
	cmd := exec.Command(st, "run", p.base+"/openapi.json", "--url", p.base,
		"--header", "X-Account-Id: schemathesis",
		"--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
		"--phases", "examples,coverage,fuzzing",
		"--max-examples", "25", "--seed", "1", "--workers", "1",
		"--request-timeout", "10", "--no-color", "--suppress-health-check", "all")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "HOME="+t.TempDir())
	cmd.Dir = t.TempDir()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found problems (%v, %s):\n%s", err, time.Since(start).Round(time.Second), out)
	}
	summary := string(out)
	if i := strings.Index(summary, "SUMMARY"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("schemathesis, %s:\n%s", time.Since(start).Round(time.Second), summary)
}
