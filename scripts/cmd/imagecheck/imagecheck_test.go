package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scaffold lays out a build context the way faas-cli does for the project's
// template with its own scaffold function, then lets edit change it.
func scaffold(t *testing.T, edit func(ctx string)) string {
	t.Helper()
	ctx := t.TempDir()
	if err := os.CopyFS(ctx, os.DirFS("../../../template/golang-lockbox")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(ctx)
	}
	return ctx
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go code")
	}
	cases := []struct {
		name string
		edit func(ctx string)
		want string // "" when the image must build
	}{
		{"scaffold builds", nil, ""},
		{"unformatted code", func(ctx string) {
			write(t, filepath.Join(ctx, "function", "extra.go"), "package function\nfunc  x() {}\n")
		}, "build.sh fmt"},
		{"failing function test", func(ctx string) {
			write(t, filepath.Join(ctx, "function", "handler_test.go"),
				"package function\n\nimport \"testing\"\n\nfunc TestFails(t *testing.T) { t.Fatal(\"broken\") }\n")
		}, "build.sh test"},
		{"shared module not copied", func(ctx string) {
			f := filepath.Join(ctx, "function", "go.mod")
			b, _ := os.ReadFile(f)
			write(t, f, string(b)+"\nreplace example.com/shared => ../../../shared\n")
		}, "build.sh fixup"},
		{"instruction the check cannot reproduce", func(ctx string) {
			f := filepath.Join(ctx, "Dockerfile")
			b, _ := os.ReadFile(f)
			write(t, f, strings.Replace(string(b), "RUN sh build.sh fmt", "ADD https://example.com/x /x\nRUN sh build.sh fmt", 1))
		}, "ADD in the build stage"},
		{"builder older than go.mod", func(ctx string) {
			f := filepath.Join(ctx, "Dockerfile")
			b, _ := os.ReadFile(f)
			write(t, f, strings.Replace(string(b), "ARG GO_VERSION=1.26", "ARG GO_VERSION=1.24", 1))
		}, "needs go 1.26"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check(scaffold(t, c.edit), io.Discard)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("got %v, want the image to build", err)
			case c.want != "" && err == nil:
				t.Fatalf("the check passed, want a failure mentioning %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("got %v, want a failure mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	df, err := ParseDockerfile(strings.NewReader(`# comment
ARG GO_VERSION=1.26
FROM --platform=${BUILDPLATFORM} golang:${GO_VERSION} AS build
ENV A=1 B="two words" \
    C=3
RUN echo a \
  && echo b
FROM alpine AS ship
COPY --from=build /x /y
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := df.GlobalArgs["GO_VERSION"]; got != "1.26" {
		t.Errorf("GO_VERSION: got %q", got)
	}
	build, ok := df.Stage("build")
	if !ok || len(build.Instructions) != 2 {
		t.Fatalf("build stage: got %+v", build)
	}
	env, err := splitEnv(build.Instructions[0].Args)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"A", "1"}, {"B", "two words"}, {"C", "3"}}
	if len(env) != 3 || env[0] != want[0] || env[1] != want[1] || env[2] != want[2] {
		t.Errorf("ENV: got %q, want %q", env, want)
	}
	if got := strings.Join(strings.Fields(build.Instructions[1].Args), " "); got != "echo a && echo b" {
		t.Errorf("RUN continuation: got %q", got)
	}
	if _, ok := df.Stage("ship"); !ok {
		t.Error("no ship stage")
	}
	if got := expand("${X:-dflt}/$Y", map[string]string{"Y": "y"}); got != "dflt/y" {
		t.Errorf("expand: got %q", got)
	}
	if !newer("1.26.0", "1.24") || newer("1.26.3", "1.26") || newer("1.25", "1.26") {
		t.Error("newer compares wrongly")
	}
}
