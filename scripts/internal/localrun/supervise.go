package localrun

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process runs one child program and restarts it when it exits on its own.
// Its output lines are written to out with a "[name] " prefix.
type process struct {
	name string
	path string
	args []string
	env  []string
	dir  string
	out  io.Writer
	log  *slog.Logger

	// minBackoff and maxBackoff bound the pause before a restart.
	minBackoff, maxBackoff time.Duration

	starts  atomic.Int64
	running atomic.Bool
}

// run keeps the process running until ctx ends, then stops it with SIGTERM
// (SIGKILL after 5 seconds).
func (p *process) run(ctx context.Context) {
	backoff := p.minBackoff
	for ctx.Err() == nil {
		started := time.Now()
		err := p.once(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.Error("process exited; restarting", "name", p.name, "err", err, "after", backoff)
		if time.Since(started) > 30*time.Second {
			backoff = p.minBackoff // it had been healthy for a while
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.maxBackoff)
	}
}

func (p *process) once(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Env, cmd.Dir = p.env, p.dir
	// Its own process group (a terminal's Ctrl-C reaches only the runtime,
	// which stops the children in order), and killed if the runtime dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	pw := &prefixWriter{prefix: "[" + p.name + "] ", out: p.out}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	p.starts.Add(1)
	p.running.Store(true)
	err := cmd.Wait()
	p.running.Store(false)
	pw.flush()
	if err == nil {
		err = fmt.Errorf("exited with status 0")
	}
	return err
}

// prefixWriter writes whole lines, each with a prefix, to a shared writer.
type prefixWriter struct {
	prefix string
	out    io.Writer
	mu     sync.Mutex
	buf    []byte
}

var outputMu sync.Mutex // lines of different processes never interleave

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}

func (w *prefixWriter) emit(line []byte) {
	outputMu.Lock()
	defer outputMu.Unlock()
	_, _ = io.WriteString(w.out, w.prefix)
	_, _ = w.out.Write(line)
}

// waitListening waits until something accepts connections on addr.
func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
