package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The README's commands are run by TestREADMECommands: every fenced sh
// (or bash, shell) block of README.md, in order, in one bash session, so
// that what a block sets is there for the next, as in a reader's terminal.
//
// A block that cannot run in a test (it needs Docker, a real OpenFaaS or
// cloud credentials, or starts make run itself) is marked by an HTML
// comment on the line right before its fence, with the reason:
//
//	<!-- readme-test: skip (needs Docker and a registry) -->
//
// A reason that names a test ("covered by TestMakeRunExternalRedis") must
// name one that exists. Blocks in other languages, without a language, or
// whose lines start with "$ " (a transcript, not commands) are not run.
//
// Each block runs under `set -euo pipefail` (and inherit_errexit): the
// first command that fails ends the session and fails the test, with the
// block and its output. curl runs with --fail-with-body, so that an HTTP
// error fails the block too. The working directory looks like the
// repository (every entry linked) but for bin/ (the pinned faas-cli and
// lockboxctl, built as the Makefile does), .secrets/ and .data/, which are
// those of a stack the test starts as make run does; OPENFAAS_URL is its
// gateway, and the README's address of make run's gateway,
// http://127.0.0.1:8080, is replaced by it in every block.

// readmeGateway is make run's default gateway, which the README's examples
// address.
const readmeGateway = "http://127.0.0.1:8080"

// readmeBlockTimeout bounds one block (make verify-audit compiles a tool).
const readmeBlockTimeout = 3 * time.Minute

// readmePrelude runs in the session before the first block.
const readmePrelude = `# An HTTP error status fails the command, as any failing command does.
curl() { command curl --fail-with-body --show-error "$@"; }
`

// readmeBlock is a fenced code block of a Markdown file.
type readmeBlock struct {
	Line int    // of the opening fence, from 1
	Lang string // the first word of the info string, lower case; "" for none
	Text string // the lines between the fences
	// Skip is the reason given by a <!-- readme-test: skip (reason) -->
	// comment on the line right before the fence; "" when not marked.
	Skip string
}

// shellLangs are the info strings of blocks that are shell commands.
var shellLangs = []string{"sh", "bash", "shell"}

// runnable says whether the block is shell commands to run and, if not,
// why.
func (b readmeBlock) runnable() (bool, string) {
	if !slices.Contains(shellLangs, b.Lang) {
		if b.Lang == "" {
			return false, "no language: not shell"
		}
		return false, b.Lang + ": not shell"
	}
	for _, l := range strings.Split(b.Text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), "$ ") {
			return false, `a transcript ("$ " prompts), not commands`
		}
	}
	return true, ""
}

var (
	fenceOpen = regexp.MustCompile("^( {0,3})(`{3,}|~{3,})(.*)$")
	marker    = regexp.MustCompile(`^\s*<!--\s*readme-test:(.*?)-->\s*$`)
	skipDir   = regexp.MustCompile(`^skip\s*\((.*)\)$`)
	// inlineCode is a Markdown code span.
	inlineCode = regexp.MustCompile("`+[^`]*`+")
)

// markerSyntax is how a block is marked, for error messages.
const markerSyntax = "<!-- readme-test: skip (why it cannot run in a test) -->"

// parseReadmeBlocks returns the fenced code blocks of a Markdown text with
// their readme-test markers. It reports every misplaced or malformed
// marker and an unclosed fence.
func parseReadmeBlocks(text string) ([]readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	var errs []error
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		// A marker mentioned in prose, as inline code, is not one.
		if strings.Contains(inlineCode.ReplaceAllString(line, ""), "readme-test:") {
			if !marker.MatchString(line) {
				errs = append(errs, fmt.Errorf("line %d: a readme-test comment must be a line of its own: %s", i+1, markerSyntax))
			} else if i+1 >= len(lines) || !isFenceOpen(lines[i+1]) {
				errs = append(errs, fmt.Errorf("line %d: a readme-test comment must be on the line right before a code fence", i+1))
			}
			continue
		}
		m := fenceOpen.FindStringSubmatch(line)
		if m == nil || (m[2][0] == '`' && strings.Contains(m[3], "`")) {
			continue
		}
		indent, fence, info := len(m[1]), m[2], strings.TrimSpace(m[3])
		b := readmeBlock{Line: i + 1}
		if f := strings.Fields(info); len(f) > 0 {
			b.Lang = strings.ToLower(f[0])
		}
		if i > 0 {
			if mm := marker.FindStringSubmatch(lines[i-1]); mm != nil {
				directive := strings.TrimSpace(mm[1])
				sm := skipDir.FindStringSubmatch(directive)
				switch {
				case directive == "skip":
					errs = append(errs, fmt.Errorf("line %d: a skipped block needs its reason: %s", i, markerSyntax))
				case sm == nil:
					errs = append(errs, fmt.Errorf("line %d: unknown readme-test directive %q: the one directive is %s", i, directive, markerSyntax))
				case strings.TrimSpace(sm[1]) == "":
					errs = append(errs, fmt.Errorf("line %d: a skipped block needs its reason: %s", i, markerSyntax))
				default:
					b.Skip = strings.TrimSpace(sm[1])
				}
			}
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			l := lines[i]
			if t := strings.TrimLeft(l, " "); len(l)-len(t) <= 3 && strings.HasPrefix(t, fence) &&
				strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == "" {
				closed = true
				break
			}
			// The content loses the fence's indentation.
			for n := 0; n < indent && strings.HasPrefix(l, " "); n++ {
				l = l[1:]
			}
			body = append(body, l)
		}
		if !closed {
			errs = append(errs, fmt.Errorf("line %d: the code fence is never closed", b.Line))
		}
		b.Text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks, errors.Join(errs...)
}

func isFenceOpen(line string) bool {
	m := fenceOpen.FindStringSubmatch(line)
	return m != nil && !(m[2][0] == '`' && strings.Contains(m[3], "`"))
}

// testNames are the test functions a skip reason names.
var testNames = regexp.MustCompile(`\bTest[A-Z0-9_]\w*`)

// definedTests returns the names of the test functions of every Go test
// file of the repository.
func definedTests(repo string) (map[string]bool, error) {
	defined := map[string]bool{}
	funcTest := regexp.MustCompile(`(?m)^func (Test\w*)\(`)
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repo && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcTest.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the repository's tests: %w", err)
	}
	return defined, nil
}

// shellSession is one bash process that runs blocks one after another, so
// that what a block sets (variables, functions, the working directory) is
// there for the next. The first command of a block that fails ends the
// session (errexit).
type shellSession struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	control  chan string   // lines the session writes to fd 3 after each block
	exited   chan struct{} // closed when bash has exited
	scratch  string        // block files and their output
	stray    *syncBuffer   // what bash printed outside the blocks
	n        int
	finished error // why the session ended, once it has
}

// startShell starts a bash session in dir with exactly env.
func startShell(dir string, env []string, scratch string) (*shellSession, error) {
	controlR, controlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	s := &shellSession{control: make(chan string, 1), exited: make(chan struct{}), scratch: scratch, stray: &syncBuffer{}}
	s.cmd = exec.Command("bash", "--noprofile", "--norc")
	s.cmd.Dir, s.cmd.Env = dir, env
	s.cmd.Stdout, s.cmd.Stderr = s.stray, s.stray
	s.cmd.ExtraFiles = []*os.File{controlW} // fd 3
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("bash stdin: %w", err)
	}
	if err := s.cmd.Start(); err != nil {
		_ = controlR.Close()
		_ = controlW.Close()
		return nil, fmt.Errorf("start bash: %w", err)
	}
	_ = controlW.Close() // bash holds it now
	go func() {
		sc := bufio.NewScanner(controlR)
		for sc.Scan() {
			s.control <- sc.Text()
		}
		close(s.control)
		_ = controlR.Close()
	}()
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

// run runs text as the session's next block and returns its output
// (stdout and stderr as they came). An error means the block failed (and
// the session is over) or did not finish within timeout (and the session
// was killed).
func (s *shellSession) run(text string, timeout time.Duration) (string, error) {
	if s.finished != nil {
		return "", fmt.Errorf("the session is over: %w", s.finished)
	}
	s.n++
	file := filepath.Join(s.scratch, fmt.Sprintf("block-%03d.sh", s.n))
	outFile := filepath.Join(s.scratch, fmt.Sprintf("block-%03d.out", s.n))
	if err := os.WriteFile(file, []byte(text+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write block: %w", err)
	}
	done := fmt.Sprintf("done %d", s.n)
	// The block's commands read nothing of the session's own input, and
	// do not hold the control descriptor.
	line := fmt.Sprintf("set -euo pipefail; shopt -s inherit_errexit; source %s 3>&- </dev/null >%s 2>&1; echo %q >&3\n",
		shellQuote(file), shellQuote(outFile), done)
	if _, err := io.WriteString(s.stdin, line); err != nil {
		s.finished = fmt.Errorf("bash stopped reading commands: %w", err)
		return "", s.finished
	}
	output := func() string {
		b, _ := os.ReadFile(outFile)
		return string(b)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case got, ok := <-s.control:
			if ok && got == done {
				return output(), nil
			}
			if ok {
				continue // a line a command wrote to fd 3 itself
			}
			<-s.exited
			s.finished = fmt.Errorf("a command failed: bash exited with status %d", s.cmd.ProcessState.ExitCode())
			if stray := strings.TrimSpace(s.stray.String()); stray != "" {
				s.finished = fmt.Errorf("%w; bash printed: %s", s.finished, stray)
			}
			return output(), s.finished
		case <-timer.C:
			s.kill()
			s.finished = fmt.Errorf("the block did not finish within %s and was killed", timeout)
			return output(), s.finished
		}
	}
}

// kill ends bash and everything it started.
func (s *shellSession) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// close ends the session: bash exits at the end of its input, or is
// killed after five seconds.
func (s *shellSession) close() {
	_ = s.stdin.Close()
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.kill()
	}
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readmeWorkDir makes a folder that looks like the repository for the
// README's commands: every entry of repo linked, but for the entries of
// own, linked to where own says.
func readmeWorkDir(t *testing.T, repo string, own map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	require.NoError(t, os.Mkdir(dir, 0o700))
	entries, err := os.ReadDir(repo)
	require.NoError(t, err)
	for _, e := range entries {
		if _, ok := own[e.Name()]; !ok {
			require.NoError(t, os.Symlink(filepath.Join(repo, e.Name()), filepath.Join(dir, e.Name())))
		}
	}
	for name, target := range own {
		require.NoError(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	return dir
}

// readmeEnv is the session's environment: the test's, without what would
// point the commands elsewhere than the test's stack (OpenFaaS and AWS
// settings, the stack's own variables, an outer make's flags, bash start-up
// files), with OPENFAAS_URL set to the test's gateway.
func readmeEnv(gateway, openfaasConfig string, stackVars []configVar) []string {
	drop := map[string]bool{"BASH_ENV": true, "ENV": true, "CDPATH": true,
		"MAKEFLAGS": true, "MAKELEVEL": true, "MFLAGS": true, "MAKEOVERRIDES": true}
	for _, v := range stackVars {
		drop[v.Name] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "OPENFAAS_") || strings.HasPrefix(k, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OPENFAAS_URL="+gateway, "OPENFAAS_CONFIG="+openfaasConfig)
}

// Every shell block of README.md runs, in order, in one session, against a
// stack started as make run starts it; see the top of this file.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	repo := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(repo, "README.md"))
	require.NoError(t, err)
	blocks, err := parseReadmeBlocks(string(raw))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	defined, err := definedTests(repo)
	require.NoError(t, err)

	var plan strings.Builder
	toRun := 0
	for _, b := range blocks {
		ok, why := b.runnable()
		switch {
		case b.Skip != "":
			fmt.Fprintf(&plan, "  README.md:%-4d %-6s skipped: %s\n", b.Line, b.Lang, b.Skip)
			for _, name := range testNames.FindAllString(b.Skip, -1) {
				if !defined[name] {
					t.Errorf("README.md:%d: the skip reason names %s, which no test file of the repository defines", b.Line, name)
				}
			}
		case !ok:
			fmt.Fprintf(&plan, "  README.md:%-4d %-6s not run: %s\n", b.Line, b.Lang, why)
		default:
			fmt.Fprintf(&plan, "  README.md:%-4d %-6s run\n", b.Line, b.Lang)
			toRun++
		}
	}
	t.Logf("README.md's code blocks:\n%s", plan.String())
	if toRun == 0 {
		return
	}

	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(bin, 0o700))
	require.NoError(t, os.Symlink(faasCLI(t, repo), filepath.Join(bin, "faas-cli")))
	require.NoError(t, os.Symlink(lockboxctl(t, repo), filepath.Join(bin, "lockboxctl")))
	s := startStack(t, stackConfig{env: map[string]string{"AUDIT_SCHEDULE": "@every 1s"}})
	work := readmeWorkDir(t, repo, map[string]string{"bin": bin, ".secrets": s.opts.secretsDir, ".data": s.opts.dataDir})
	sh, err := startShell(work, readmeEnv(s.Gateway, t.TempDir(), readmeVars(t, repo)), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(sh.close)
	if _, err := sh.run(readmePrelude, time.Minute); err != nil {
		t.Fatalf("the session's prelude: %v", err)
	}
	t.Logf("blocks run in %s with OPENFAAS_URL=%s (%s in the blocks replaced by it)", work, s.Gateway, readmeGateway)

	failedAt := 0
	for _, b := range blocks {
		if ok, _ := b.runnable(); !ok && b.Skip == "" {
			continue
		}
		t.Run(fmt.Sprintf("README.md:%d", b.Line), func(t *testing.T) {
			if b.Skip != "" {
				t.Skipf("README.md:%d skipped: %s", b.Line, b.Skip)
			}
			if ok, why := b.runnable(); !ok {
				t.Skipf("README.md:%d marked but not run anyway: %s", b.Line, why)
			}
			if failedAt != 0 {
				t.Skipf("not run: the block at README.md:%d failed, and the blocks share one session", failedAt)
			}
			text := strings.ReplaceAll(b.Text, readmeGateway, s.Gateway)
			start := time.Now()
			out, err := sh.run(text, readmeBlockTimeout)
			if err != nil {
				failedAt = b.Line
				t.Fatalf("README.md:%d: %v\n--- the block, as run (set -euo pipefail) ---\n%s\n--- its output ---\n%s", b.Line, err, text, out)
			}
			t.Logf("ran in %s; output:\n%s", time.Since(start).Round(time.Millisecond), out)
		})
	}
}
