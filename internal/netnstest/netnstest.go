// Package netnstest builds throwaway network topologies for root-only
// integration tests: namespaces and veth pairs made with iproute2, removed
// in t.Cleanup (also when the test fails). Names carry a per-test prefix so
// parallel packages never collide, and nothing outside them is touched.
package netnstest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var seq atomic.Uint32

// Lab is a set of namespaces owned by one test.
type Lab struct {
	t      testing.TB
	prefix string
	nss    []string
}

// New checks for root and returns an empty lab whose names start with
// prefix (keep it short: interface names are at most 15 bytes).
func New(t testing.TB, prefix string) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("integration tests need root (network namespaces)")
	}
	l := &Lab{t: t, prefix: fmt.Sprintf("%s%d%d", prefix, os.Getpid()%1000, seq.Add(1))}
	t.Cleanup(l.cleanup)
	return l
}

// Name returns the lab-unique form of a short name.
func (l *Lab) Name(short string) string { return l.prefix + short }

// NS creates a namespace with loopback up and returns its full name.
func (l *Lab) NS(short string) string {
	l.t.Helper()
	name := l.Name(short)
	l.Run("ip", "netns", "add", name)
	l.nss = append(l.nss, name)
	l.Exec(name, "ip", "link", "set", "lo", "up")
	return name
}

// Veth joins two namespaces with a veth pair named a (in nsA) and b (in nsB).
func (l *Lab) Veth(nsA, a, nsB, b string) {
	l.t.Helper()
	tmp := l.Name("v")
	l.Run("ip", "link", "add", tmp+"a", "type", "veth", "peer", "name", tmp+"b")
	l.Run("ip", "link", "set", tmp+"a", "netns", nsA)
	l.Run("ip", "link", "set", tmp+"b", "netns", nsB)
	l.Exec(nsA, "ip", "link", "set", tmp+"a", "name", a)
	l.Exec(nsB, "ip", "link", "set", tmp+"b", "name", b)
	l.Exec(nsA, "ip", "link", "set", a, "up")
	l.Exec(nsB, "ip", "link", "set", b, "up")
	// The kernel attaches a veth's qdisc from the link-watch worker once the
	// carrier is on; until then frames are dropped. Wait for both ends.
	l.WaitUp(nsA, a)
	l.WaitUp(nsB, b)
}

// WaitUp waits until an interface's operational state is UP.
func (l *Lab) WaitUp(ns, dev string) {
	l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.Exec(ns, "ip", "-o", "link", "show", "dev", dev), "state UP") {
		if time.Now().After(deadline) {
			l.t.Fatalf("%s in %s not up after 10s", dev, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs a command and fails the test if it fails.
func (l *Lab) Run(name string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Exec runs a command inside a namespace and fails the test if it fails.
func (l *Lab) Exec(ns string, args ...string) string {
	l.t.Helper()
	return l.Run("ip", append([]string{"netns", "exec", ns}, args...)...)
}

// Try runs a command inside a namespace and returns its output and error.
func (l *Lab) Try(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// Proc is a process the lab started; it is killed (by PID) at cleanup.
type Proc struct {
	Cmd    *exec.Cmd
	Out    *SafeBuffer
	exited chan struct{}
}

// Start starts a long-running command inside a namespace.
func (l *Lab) Start(ns string, args ...string) *Proc {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	p := &Proc{Cmd: cmd, Out: &SafeBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %v: %v", args, err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	l.t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if l.t.Failed() {
			l.t.Logf("output of %s:\n%s", strings.Join(args, " "), tail(p.Out.String(), 4000))
		}
	})
	return p
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. It reports whether
// the process exited within the grace period.
func (p *Proc) Stop(grace time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(grace):
		p.Cmd.Process.Kill()
		<-p.exited
		return false
	}
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// ExitCode is the process's exit code (valid after Exited).
func (p *Proc) ExitCode() int { return p.Cmd.ProcessState.ExitCode() }

// WaitOutput waits until the process output contains s.
func (p *Proc) WaitOutput(ctx context.Context, s string) error {
	for {
		if strings.Contains(p.Out.String(), s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w; output:\n%s", s, ctx.Err(), tail(p.Out.String(), 3000))
		case <-p.exited:
			if strings.Contains(p.Out.String(), s) {
				return nil
			}
			return fmt.Errorf("process exited while waiting for %q; output:\n%s", s, tail(p.Out.String(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (l *Lab) cleanup() {
	for i := len(l.nss) - 1; i >= 0; i-- {
		// Deleting a namespace removes its veths and TUNs with it.
		exec.Command("ip", "netns", "pids", l.nss[i]).Run()
		exec.Command("ip", "netns", "del", l.nss[i]).Run()
	}
}

// SafeBuffer is a bytes.Buffer safe for a writer and readers at once.
type SafeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SafeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SafeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
