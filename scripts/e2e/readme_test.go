package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/readme"
)

// The README's commands are run by TestREADMECommands: every fenced sh
// (or bash, shell) block of README.md, in order, in one bash session, so
// that what a block sets is there for the next, as in a reader's terminal.
// A block that cannot run in a test is marked with the reason (package
// scripts/internal/readme says how).
//
// Each block runs under `set -euo pipefail` (and inherit_errexit): the
// first command that fails ends the session and fails the test, with the
// block and its output. curl runs with --fail-with-body, so that an HTTP
// error fails the block too. The working directory looks like the
// repository (every entry linked) but for bin/ (the pinned faas-cli and
// lockboxctl, built as the Makefile does), .secrets/ and .data/, which are
// those of a stack the test starts as make run does; OPENFAAS_URL is its
// gateway, and the README's address of make run's gateway,
// http://127.0.0.1:8080, is replaced by it in every block. The other
// loopback addresses the README's walk-throughs listen on (readmePorts)
// are replaced by free ports. A block marked with what it needs
// (<!-- readme-test: needs (nginx, root) -->) is skipped, saying so, where
// that is missing, and fails in CI. Whatever the blocks leave running in
// the background is killed with the session.

// readmeGateway is make run's default gateway, which the README's examples
// address.
const readmeGateway = "http://127.0.0.1:8080"

// readmePorts are the loopback addresses, besides the gateway's, that the
// README's walk-throughs listen on; each is replaced by a free port.
var readmePorts = []string{"127.0.0.1:8081", "127.0.0.1:9000", "127.0.0.1:2222"}

// readmeBlockTimeout bounds one block (make verify-audit compiles a tool).
const readmeBlockTimeout = 3 * time.Minute

// readmePrelude runs in the session before the first block.
const readmePrelude = `# An HTTP error status fails the command, as any failing command does.
curl() { command curl --fail-with-body --show-error "$@"; }
`

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
// killed after five seconds; what the blocks started in the background
// (still in bash's process group) is killed then.
func (s *shellSession) close() {
	_ = s.stdin.Close()
	select {
	case <-s.exited:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
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
func readmeEnv(gateway, openfaasConfig string, stackVars []readme.Var) []string {
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

// guideDocs are the documents that continue the README, in the order a
// reader follows them: their shell blocks run after the README's, in the
// same session, so that a document may use what the README's walk-through
// set (TOKEN, REQ and the like) and what an earlier document set.
var guideDocs = []string{
	"README.md",
	"docs/api.md",
	"docs/enforce.md",
	"docs/portal.md",
	"docs/notifications.md",
	"docs/ticketing.md",
	"docs/audit.md",
	"docs/configuration.md",
	"docs/deploy.md",
	"docs/development.md",
	"docs/operations.md",
	"docs/controls.md",
	"docs/provider.md",
}

// guideBlock is a block of one of the guide's documents.
type guideBlock struct {
	readme.Block
	Doc   string
	Again bool // the README's block, run a second time on the data the first left
}

// Where names the block's document and line.
func (b guideBlock) Where() string {
	if b.Again {
		return fmt.Sprintf("%s:%d-again", b.Doc, b.Line)
	}
	return fmt.Sprintf("%s:%d", b.Doc, b.Line)
}

// guideBlocks reads the blocks of every guide document, in order. The
// README's blocks come twice, as a reader who runs its walk-through again
// on a second make run meets them: on the data the first run left (the
// settings saved, the fixture's ticket filed), they must work as well.
func guideBlocks(t *testing.T, repo string) []guideBlock {
	t.Helper()
	var all []guideBlock
	for _, doc := range guideDocs {
		raw, err := os.ReadFile(filepath.Join(repo, doc))
		require.NoError(t, err)
		blocks, err := readme.Blocks(string(raw))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for _, b := range blocks {
			all = append(all, guideBlock{Block: b, Doc: doc})
		}
		if doc == "README.md" {
			for _, b := range blocks {
				all = append(all, guideBlock{Block: b, Doc: doc, Again: true})
			}
		}
	}
	return all
}

// Every shell block of README.md and then of the guide's other documents
// runs, in order, in one session, against a stack started as make run
// starts it; see the top of this file.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	repo := repoRoot(t)
	blocks := guideBlocks(t, repo)
	defined, err := readme.DefinedTests(repo)
	require.NoError(t, err)

	var plan strings.Builder
	toRun := 0
	for _, b := range blocks {
		ok, why := b.Runnable()
		switch {
		case b.Skip != "":
			fmt.Fprintf(&plan, "  %-22s %-6s skipped: %s\n", b.Where(), b.Lang, b.Skip)
			for _, name := range readme.TestsNamed(b.Skip) {
				if !defined[name] {
					t.Errorf("%s: the skip reason names %s, which no test file of the repository defines", b.Where(), name)
				}
			}
		case !ok:
			fmt.Fprintf(&plan, "  %-22s %-6s not run: %s\n", b.Where(), b.Lang, why)
		case len(b.Needs) > 0:
			fmt.Fprintf(&plan, "  %-22s %-6s run where there are %s\n", b.Where(), b.Lang, strings.Join(b.Needs, ", "))
			toRun++
		default:
			fmt.Fprintf(&plan, "  %-22s %-6s run\n", b.Where(), b.Lang)
			toRun++
		}
	}
	t.Logf("the guide's code blocks:\n%s", plan.String())
	if toRun == 0 {
		return
	}

	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(bin, 0o700))
	require.NoError(t, os.Symlink(faasCLI(t, repo), filepath.Join(bin, "faas-cli")))
	require.NoError(t, os.Symlink(lockboxctl(t, repo), filepath.Join(bin, "lockboxctl")))
	s := startStack(t, stackConfig{env: map[string]string{"AUDIT_SCHEDULE": "@every 1s"}})
	work := readmeWorkDir(t, repo, map[string]string{"bin": bin, ".secrets": s.opts.SecretsDir, ".data": s.opts.DataDir})
	sh, err := startShell(work, readmeEnv(s.Gateway, t.TempDir(), readmeVars(t, repo)), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(sh.close)
	if _, err := sh.run(readmePrelude, time.Minute); err != nil {
		t.Fatalf("the session's prelude: %v", err)
	}
	addresses := []string{readmeGateway, s.Gateway}
	for _, a := range readmePorts {
		port, err := loopback.FreePort()
		require.NoError(t, err)
		addresses = append(addresses, a, "127.0.0.1:"+strconv.Itoa(port))
	}
	replace := strings.NewReplacer(addresses...)
	t.Logf("blocks run in %s with OPENFAAS_URL=%s (replaced in the blocks: %v)", work, s.Gateway, addresses)

	failedAt := ""
	again := false
	for _, b := range blocks {
		if ok, _ := b.Runnable(); !ok && b.Skip == "" {
			continue
		}
		if b.Again && !again {
			// A signature names its second (X-Lockbox-Timestamp): the same
			// body signed twice within one second is the same delivery, a
			// replay. A reader runs the walk-through again seconds later at
			// the soonest; so does the test.
			again = true
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
		}
		t.Run(b.Where(), func(t *testing.T) {
			if b.Skip != "" {
				t.Skipf("%s skipped: %s", b.Where(), b.Skip)
			}
			if ok, why := b.Runnable(); !ok {
				t.Skipf("%s marked but not run anyway: %s", b.Where(), why)
			}
			if failedAt != "" {
				t.Skipf("not run: the block at %s failed, and the blocks share one session", failedAt)
			}
			if missing := b.Missing(exec.LookPath, os.Geteuid()); len(missing) > 0 {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s needs %s: CI must run it (.ci/run installs them)", b.Where(), strings.Join(missing, ", "))
				}
				t.Skipf("%s needs %s, not here", b.Where(), strings.Join(missing, ", "))
			}
			text := replace.Replace(b.Text)
			start := time.Now()
			out, err := sh.run(text, readmeBlockTimeout)
			if err != nil {
				failedAt = b.Where()
				t.Fatalf("%s: %v\n--- the block, as run (set -euo pipefail) ---\n%s\n--- its output ---\n%s", b.Where(), err, text, out)
			}
			t.Logf("ran in %s; output:\n%s", time.Since(start).Round(time.Millisecond), out)
		})
	}
}

// The shell blocks of docs/*.md that are not part of the guide
// (guideDocs), which TestREADMECommands runs, are each marked with the
// reason they are not run, as the README's untested blocks are, and a test
// a reason names exists.
func TestDocsShellBlocksAreMarked(t *testing.T) {
	repo := repoRoot(t)
	docs, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, docs)
	defined, err := readme.DefinedTests(repo)
	require.NoError(t, err)
	for _, path := range docs {
		name, err := filepath.Rel(repo, path)
		require.NoError(t, err)
		if slices.Contains(guideDocs, filepath.ToSlash(name)) {
			continue
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		blocks, err := readme.Blocks(string(raw))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, b := range blocks {
			if ok, _ := b.Runnable(); !ok {
				continue
			}
			if b.Skip == "" {
				t.Errorf("%s:%d: a shell block that no test runs: run it in a test, or mark it on the line before its fence: %s", name, b.Line, readme.MarkerSyntax)
				continue
			}
			for _, test := range readme.TestsNamed(b.Skip) {
				if !defined[test] {
					t.Errorf("%s:%d: the skip reason names %s, which no test file of the repository defines", name, b.Line, test)
				}
			}
			t.Logf("%s:%d not run: %s", name, b.Line, b.Skip)
		}
	}
}
