// Package fnbuild builds function binaries the way their images are built,
// for the local runtime (make run) and the benchmark (make bench).
package fnbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"lockbox.dev/scripts/internal/stack"
)

// Builder builds function binaries the way their images are built: it lays
// out the build context as faas-cli does (template, handler at function/,
// configuration.copy folders inside it) and runs the template's own build
// steps (build.sh fixup, build.sh build). Binaries are cached by a hash of
// everything that goes into the context.
type Builder struct {
	Stack *stack.Stack
	Dir   string // cache folder, e.g. .data/build
}

// sources are the folders a function's build context is made of, by the
// path they take inside the context.
func (b *Builder) sources(fn stack.Function) map[string]string {
	src := map[string]string{
		".":        b.Stack.Path(filepath.Join("template", fn.Lang)),
		"function": b.Stack.Path(fn.Handler),
	}
	for _, c := range b.Stack.Configuration.Copy {
		src[filepath.Join("function", filepath.Base(c))] = b.Stack.Path(c)
	}
	return src
}

// Cached counts the functions of fns whose binary of the same sources is
// cached (a function whose sources cannot be read counts as not cached).
func (b *Builder) Cached(fns []stack.Function) int {
	n := 0
	for _, fn := range fns {
		if hash, err := hashSources(b.sources(fn)); err == nil {
			if _, err := os.Stat(filepath.Join(b.Dir, fn.Name, "handler-"+hash[:16])); err == nil {
				n++
			}
		}
	}
	return n
}

// Build returns the path of fn's binary, building it unless a binary of the
// same sources is cached.
func (b *Builder) Build(fn stack.Function) (bin string, cached bool, err error) {
	src := b.sources(fn)
	hash, err := hashSources(src)
	if err != nil {
		return "", false, fmt.Errorf("hash sources of %s: %w", fn.Name, err)
	}
	fnDir := filepath.Join(b.Dir, fn.Name)
	bin = filepath.Join(fnDir, "handler-"+hash[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, true, nil
	}
	ctx := filepath.Join(fnDir, "context")
	if err := os.RemoveAll(ctx); err != nil {
		return "", false, err
	}
	// Parents before children: the template first, then the handler, then
	// the copies inside it.
	targets := make([]string, 0, len(src))
	for t := range src {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		if err := copyTree(src[t], filepath.Join(ctx, t)); err != nil {
			return "", false, fmt.Errorf("lay out context of %s: %w", fn.Name, err)
		}
	}
	for _, step := range []string{"fixup", "build"} {
		cmd := exec.Command("sh", "build.sh", step)
		cmd.Dir = ctx
		cmd.Env = append(WithoutGOWORK(os.Environ()), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", false, fmt.Errorf("%s: build.sh %s: %w\n%s", fn.Name, step, err, out)
		}
	}
	old, _ := filepath.Glob(filepath.Join(fnDir, "handler-*"))
	for _, o := range old {
		_ = os.Remove(o) // an old binary left behind is harmless
	}
	if err := os.Rename(filepath.Join(ctx, "handler"), bin); err != nil {
		return "", false, err
	}
	return bin, false, nil
}

// BuildAll builds fns: the first alone, so that it fills the Go build cache
// with what they share, then the others two at a time. It returns each
// binary by function name.
func (b *Builder) BuildAll(fns []stack.Function, log *slog.Logger) (map[string]string, error) {
	var mu sync.Mutex
	bins := map[string]string{}
	var errs []error
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	first := make(chan struct{})
	for i, fn := range fns {
		wg.Go(func() {
			if i > 0 {
				<-first
			} else {
				defer close(first)
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			t := time.Now()
			bin, cached, err := b.Build(fn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			bins[fn.Name] = bin
			if cached {
				log.Info("build cached", "function", fn.Name)
			} else {
				log.Info("built", "function", fn.Name, "seconds", fmt.Sprintf("%.1f", time.Since(t).Seconds()))
			}
		})
	}
	wg.Wait()
	return bins, errors.Join(errs...)
}

// WithoutGOWORK returns env without GOWORK: a build context has its own
// workspace.
func WithoutGOWORK(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOWORK=") {
			out = append(out, kv)
		}
	}
	return out
}

// hashSources hashes the paths and contents of every file of the sources.
func hashSources(src map[string]string) (string, error) {
	h := sha256.New()
	targets := make([]string, 0, len(src))
	for t := range src {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		err := filepath.WalkDir(src[t], func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src[t], p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s/%s\x00%d\x00", t, rel, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyTree copies the regular files under src into dst, keeping modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
}
