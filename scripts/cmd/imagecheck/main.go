// Command imagecheck reproduces, without Docker, the image build of every
// function in a stack file, and fails when an image would not build.
//
// It lays out each build context exactly as faas-cli does (faas-cli build
// --shrinkwrap, from the pinned tools module), then interprets the "build"
// stage of the context's Dockerfile in a scratch root: ARG, ENV, WORKDIR,
// COPY of the context and RUN, the instructions that stage may use. Anything
// else in it fails the check rather than being skipped. Finally it checks
// that what the final stage copies from the build stage exists, and that the
// Go builder image is at least as new as every go.mod in the context asks.
//
//	go run ./scripts/cmd/imagecheck -faas-cli bin/faas-cli -f stack.yml
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	stack := flag.String("f", "stack.yml", "stack file")
	faasCLI := flag.String("faas-cli", "bin/faas-cli", "faas-cli binary")
	only := flag.String("only", "", "check only this function")
	flag.Parse()
	log.SetFlags(0)

	dir := filepath.Dir(*stack)
	if err := shrinkwrap(*faasCLI, dir, filepath.Base(*stack)); err != nil {
		log.Fatalf("imagecheck: %v", err)
	}
	contexts, _ := filepath.Glob(filepath.Join(dir, "build", "*", "Dockerfile"))
	if len(contexts) == 0 {
		log.Fatal("imagecheck: faas-cli produced no build contexts")
	}
	failed := 0
	for _, df := range contexts {
		ctx := filepath.Dir(df)
		name := filepath.Base(ctx)
		if *only != "" && name != *only {
			continue
		}
		start := time.Now()
		if err := Check(ctx, os.Stdout); err != nil {
			log.Printf("FAIL %s: %v", name, err)
			failed++
			continue
		}
		log.Printf("ok   %s: image builds (%.1fs)", name, time.Since(start).Seconds())
	}
	if failed > 0 {
		log.Fatalf("imagecheck: %d image(s) would not build", failed)
	}
}

// shrinkwrap writes the build contexts with faas-cli into dir/build.
func shrinkwrap(faasCLI, dir, stack string) error {
	if err := os.RemoveAll(filepath.Join(dir, "build")); err != nil {
		return err
	}
	cfg, err := os.MkdirTemp("", "imagecheck-faas")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cfg)
	abs, err := filepath.Abs(faasCLI)
	if err != nil {
		return err
	}
	cmd := exec.Command(abs, "build", "--shrinkwrap", "-f", stack)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENFAAS_CONFIG="+cfg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("faas-cli build --shrinkwrap: %w\n%s", err, out)
	}
	return nil
}

// Check runs the build stage of the Dockerfile in ctx in a scratch root and
// checks the result. Output of the build steps goes to out.
func Check(ctx string, out io.Writer) error {
	f, err := os.Open(filepath.Join(ctx, "Dockerfile"))
	if err != nil {
		return err
	}
	defer f.Close()
	df, err := ParseDockerfile(f)
	if err != nil {
		return fmt.Errorf("Dockerfile: %w", err)
	}
	build, ok := df.Stage("build")
	if !ok {
		return errors.New(`Dockerfile has no stage named "build"`)
	}
	root, err := os.MkdirTemp("", "imagecheck-root")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	if err := checkGoVersion(ctx, df.GlobalArgs["GO_VERSION"]); err != nil {
		return err
	}
	if err := runStage(build, df.GlobalArgs, ctx, root, out); err != nil {
		return err
	}
	return checkFinalCopies(df, root)
}

// runStage interprets the instructions of one stage.
func runStage(st Stage, globals map[string]string, ctx, root string, out io.Writer) error {
	vars := map[string]string{"TARGETOS": "linux", "TARGETARCH": "amd64", "TARGETPLATFORM": "linux/amd64", "BUILDPLATFORM": "linux/amd64"}
	env := map[string]string{}
	workdir := "/"
	for _, in := range st.Instructions {
		all := merged(vars, env)
		switch in.Cmd {
		case "ARG":
			k, v, hasDefault := strings.Cut(in.Args, "=")
			switch {
			case hasDefault:
				vars[k] = expand(v, all)
			case globals[k] != "":
				vars[k] = globals[k]
			}
		case "ENV":
			pairs, err := splitEnv(in.Args)
			if err != nil {
				return fmt.Errorf("line %d: %w", in.Line, err)
			}
			for _, p := range pairs {
				env[p[0]] = expand(p[1], all)
			}
		case "WORKDIR":
			p := expand(in.Args, all)
			if !filepath.IsAbs(p) {
				p = filepath.Join(workdir, p)
			}
			workdir = p
			if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
				return err
			}
		case "COPY":
			if strings.Fields(in.Args)[0] != "." || len(strings.Fields(in.Args)) != 2 {
				return fmt.Errorf("line %d: COPY %s: only COPY . <dest> of the context is reproduced", in.Line, in.Args)
			}
			dest := strings.Fields(in.Args)[1]
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(workdir, dest)
			}
			if err := os.CopyFS(filepath.Join(root, dest), os.DirFS(ctx)); err != nil {
				return fmt.Errorf("line %d: COPY: %w", in.Line, err)
			}
		case "RUN":
			cmd := exec.Command("/bin/sh", "-c", in.Args)
			cmd.Dir = filepath.Join(root, workdir)
			cmd.Env = runEnv(merged(vars, env))
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			if err := cmd.Run(); err != nil {
				_, _ = out.Write(buf.Bytes())
				return fmt.Errorf("line %d: RUN %s: %w", in.Line, in.Args, err)
			}
		default:
			return fmt.Errorf("line %d: %s in the build stage cannot be reproduced without Docker", in.Line, in.Cmd)
		}
	}
	return nil
}

// runEnv is the host environment (for the Go caches and proxy settings)
// without workspace settings of the host, plus the stage's ARGs and ENVs,
// and GOFLAGS=-trimpath: every context holds its own copy of the shared
// module, in a folder of its own, and only with trimmed paths do their
// compilations (the function's tests above all) share the build cache
// instead of compiling the shared packages once per image. It changes no
// outcome: the image's build step trims paths itself.
func runEnv(stage map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "GOWORK" || k == "GOFLAGS" || stage[k] != "" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range stage {
		env = append(env, k+"="+v)
	}
	if stage["GOFLAGS"] == "" {
		env = append(env, "GOFLAGS=-trimpath")
	}
	return env
}

func merged(a, b map[string]string) map[string]string {
	m := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// checkFinalCopies checks that every COPY --from=build in the other stages
// names something the build stage produced.
func checkFinalCopies(df Dockerfile, root string) error {
	for _, st := range df.Stages {
		for _, in := range st.Instructions {
			if in.Cmd != "COPY" || !strings.Contains(in.Args, "--from=build") {
				continue
			}
			var paths []string
			for _, f := range strings.Fields(in.Args) {
				if !strings.HasPrefix(f, "--") {
					paths = append(paths, f)
				}
			}
			for _, src := range paths[:len(paths)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					return fmt.Errorf("line %d: the build stage did not produce %s", in.Line, src)
				}
			}
		}
	}
	return nil
}

// checkGoVersion fails when a go.mod in the context asks for a newer Go than
// the builder image (GO_VERSION) provides.
func checkGoVersion(ctx, builder string) error {
	if builder == "" {
		return errors.New("Dockerfile has no GO_VERSION argument")
	}
	return filepath.WalkDir(ctx, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "go.mod" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok && newer(v, builder) {
				rel, _ := filepath.Rel(ctx, path)
				return fmt.Errorf("%s needs go %s but the builder image is golang:%s", rel, v, builder)
			}
		}
		return nil
	})
}

// newer reports whether Go version a is newer than b, comparing as many
// dotted parts as b gives (so "1.26.3" is not newer than "1.26").
func newer(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range pb {
		x, y := 0, 0
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		y, _ = strconv.Atoi(pb[i])
		if x != y {
			return x > y
		}
	}
	return false
}
