package deploycheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
)

// There is no Docker engine here: TestDockerfileBuildsEveryBinary reads the
// Dockerfile with BuildKit's own parser and runs its build stage as Docker
// would, in a directory holding only what each COPY puts there, once per
// binary. A module copy missing before `go mod download`, a build target
// that is not a program, or an entrypoint the final stage does not hold
// fails it.

// dockerfile is the parsed Dockerfile of the repository root.
type dockerfile struct {
	stages []instructions.Stage
	// args are the build arguments declared before the first FROM.
	args []instructions.ArgCommand
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("Dockerfile line %d: %s", w.Location.Start.Line, w.Short)
	}
	stages, args, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return dockerfile{stages: stages, args: args}
}

func (d dockerfile) stage(t *testing.T, name string) instructions.Stage {
	t.Helper()
	for _, s := range d.stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile has no stage %q", name)
	return instructions.Stage{}
}

// workspace is go.work: the Go version and the module directories.
func workspace(t *testing.T) (goVersion string, modules []string) {
	t.Helper()
	data, err := os.ReadFile("../go.work")
	if err != nil {
		t.Fatal(err)
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range wf.Use {
		modules = append(modules, path.Clean(u.Path))
	}
	return wf.Go.Version, modules
}

// programs are the directories under services/ holding a main package: the
// binaries an image can carry.
func programs(t *testing.T) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir("../services")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		src, err := os.ReadFile(filepath.Join("../services", e.Name(), "main.go"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(stripComments(src)), []byte("package main")) {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatal("no programs under services/")
	}
	return out
}

func stripComments(src []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(src) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("//")) {
			b.Write(line)
		}
	}
	return b.Bytes()
}

func TestDockerfileCopiesEveryModuleBeforeDownloading(t *testing.T) {
	d := parseDockerfile(t)
	goVersion, modules := workspace(t)
	build := d.stage(t, "build")
	if want := "golang:" + goVersion; !strings.HasPrefix(build.BaseName, want) {
		t.Errorf("the build stage starts FROM %s; go.work says go %s: use %s", build.BaseName, goVersion, want)
	}
	copied := map[string]bool{}
	downloads := false
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			downloads = strings.Contains(strings.Join(r.CmdLine, " "), "go mod download")
			break
		}
		if cp, ok := c.(*instructions.CopyCommand); ok {
			for _, src := range cp.SourcePaths {
				copied[path.Clean(src)] = true
			}
		}
	}
	if !downloads {
		t.Fatal("the build stage's first RUN is not `go mod download`: the module downloads would not be cached apart from the sources")
	}
	for _, f := range []string{"go.work", "go.work.sum"} {
		if !copied[f] {
			t.Errorf("the Dockerfile does not copy %s before `go mod download`", f)
		}
	}
	for _, m := range modules {
		for _, f := range []string{"go.mod", "go.sum"} {
			if !copied[path.Join(m, f)] {
				t.Errorf("go.work uses ./%s, but the Dockerfile does not copy %s/%s before `go mod download`: the download fails with \"listed in go.work\"", m, m, f)
			}
		}
	}
	for src := range copied {
		if strings.HasSuffix(src, "go.mod") && !slices.Contains(modules, path.Dir(src)) {
			t.Errorf("the Dockerfile copies %s, which go.work does not use", src)
		}
	}
}

// TestDockerfileBuildsEveryBinary runs the build stage for every program,
// as `docker build --build-arg SERVICE=<program>` would, and checks that
// the final stage's entrypoint is the binary it built.
func TestDockerfileBuildsEveryBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary from a clean copy")
	}
	d := parseDockerfile(t)
	build := d.stage(t, "build")
	final := d.stages[len(d.stages)-1]
	ignore := dockerignore(t)
	for _, prog := range programs(t) {
		t.Run(prog, func(t *testing.T) {
			root := t.TempDir()
			b := &builder{t: t, root: root, ignore: ignore, env: map[string]string{}}
			b.run(build, map[string]string{"SERVICE": prog})
			checkEntrypoint(t, final, build.Name, root)
		})
	}
}

// checkEntrypoint checks that the final stage copies from the build stage
// what the build stage made, and that its entrypoint is that file and
// runs.
func checkEntrypoint(t *testing.T, final instructions.Stage, from, buildRoot string) {
	t.Helper()
	installed := map[string]string{} // path in the final image -> path in the build stage
	var entrypoint []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != from {
				t.Errorf("the final stage copies %v from %q: it should hold only what the build stage made", c.SourcePaths, c.From)
				continue
			}
			for _, src := range c.SourcePaths {
				dst := c.DestPath
				if strings.HasSuffix(dst, "/") {
					dst = path.Join(dst, path.Base(src))
				}
				installed[dst] = src
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("ENTRYPOINT %v is in shell form: the image has no shell; use the JSON form", c.CmdLine)
			}
			entrypoint = c.CmdLine
		}
	}
	if len(entrypoint) == 0 {
		t.Fatal("the final stage has no ENTRYPOINT")
	}
	src, ok := installed[entrypoint[0]]
	if !ok {
		t.Fatalf("ENTRYPOINT %s is not a file the final stage copies from the build stage (it copies %v)", entrypoint[0], installed)
	}
	bin := filepath.Join(buildRoot, filepath.FromSlash(src))
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("ENTRYPOINT %s comes from %s in the build stage, which the build did not make (%v)", entrypoint[0], src, err)
	}
	// The binary runs and answers -h with its usage, not a crash.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(entrypoint[1:], "-h")...).CombinedOutput()
	if ctx.Err() != nil || !strings.Contains(string(out), "Usage") && !strings.Contains(string(out), "usage") {
		t.Errorf("%s -h: %v\n%s", entrypoint[0], err, out)
	}
}

func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// builder runs one stage's instructions in a directory standing for the
// image's root file system.
type builder struct {
	t       *testing.T
	root    string
	ignore  *patternmatcher.PatternMatcher
	env     map[string]string
	workdir string
}

func (b *builder) run(s instructions.Stage, buildArgs map[string]string) {
	b.workdir = "/"
	for _, c := range s.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				if v, ok := buildArgs[a.Key]; ok {
					b.env[a.Key] = v
				} else if a.Value != nil {
					b.env[a.Key] = *a.Value
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				b.env[kv.Key] = kv.Value
			}
		case *instructions.WorkdirCommand:
			b.workdir = path.Join(b.workdir, c.Path)
		case *instructions.CopyCommand:
			if c.From != "" {
				b.t.Fatalf("the build stage copies from %q", c.From)
			}
			for _, src := range c.SourcePaths {
				b.copy(src, c.DestPath)
			}
		case *instructions.RunCommand:
			b.exec(c)
		default:
			b.t.Fatalf("the build stage uses %s, which this test does not run", c.Name())
		}
	}
}

// inRoot is where an image path is in the stand-in root.
func (b *builder) inRoot(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(b.workdir, p)
	}
	return filepath.Join(b.root, filepath.FromSlash(p))
}

// copy does COPY src dst from the repository (the build context), leaving
// out what .dockerignore excludes.
func (b *builder) copy(src, dst string) {
	from := filepath.Join("..", filepath.FromSlash(src))
	to := b.inRoot(dst)
	st, err := os.Stat(from)
	if err != nil {
		b.t.Fatalf("COPY %s: %v", src, err)
	}
	if !st.IsDir() {
		if strings.HasSuffix(dst, "/") {
			to = filepath.Join(to, filepath.Base(from))
		}
		b.copyFile(from, to)
		return
	}
	err = filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if rel != "." {
			if skip, _ := b.ignore.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		inSrc, _ := filepath.Rel(from, p)
		if e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		b.copyFile(p, filepath.Join(to, inSrc))
		return nil
	})
	if err != nil {
		b.t.Fatalf("COPY %s %s: %v", src, dst, err)
	}
}

func (b *builder) copyFile(from, to string) {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		b.t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		b.t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.t.Fatal(err)
	}
}

// absPath is an absolute path in a shell command: /out/service.
var absPath = regexp.MustCompile(`(^|[\s="'])/([A-Za-z])`)

// exec runs a RUN instruction with the stage's environment in its work
// directory; absolute paths are taken into the stand-in root. The go
// command comes from the machine (the builder image's Go is the version
// go.work names, which GOTOOLCHAIN selects here too).
func (b *builder) exec(c *instructions.RunCommand) {
	if !c.PrependShell || len(c.CmdLine) != 1 {
		b.t.Fatalf("RUN %v: this test runs shell-form RUN only", c.CmdLine)
	}
	line := absPath.ReplaceAllString(c.CmdLine[0], "${1}"+filepath.ToSlash(b.root)+"/$2")
	dir := b.inRoot(b.workdir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		// The repository's workspace and flags are not the image's.
		if !strings.HasPrefix(kv, "GOWORK=") && !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range b.env {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s", k, v))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("RUN %s (SERVICE=%s): %v\n%s", c.CmdLine[0], b.env["SERVICE"], err, out)
	}
}

// TestImagesAreBinaries checks that every image the manifests run is one
// the Dockerfile builds: ghcr.io/falcon-chat/<program>.
func TestImagesAreBinaries(t *testing.T) {
	progs := programs(t)
	for _, m := range renderings(t) {
		for _, pod := range podSpecs(m) {
			for _, c := range pod.containers {
				name := c.Image
				if i := strings.LastIndexAny(name, ":@"); i > strings.LastIndex(name, "/") {
					name = name[:i]
				}
				if !slices.Contains(progs, path.Base(name)) {
					t.Errorf("%s: %s runs image %s, which is no program the Dockerfile builds (%v)", m.source, pod.name, c.Image, progs)
				}
			}
		}
	}
}
