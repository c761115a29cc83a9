// Package nstest creates throwaway network namespaces and veth pairs for
// integration tests. Every name starts with "bbt-" (namespaces) or "bbt"
// (interfaces), and everything is removed in t.Cleanup, also on failure.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// An NS is a named network namespace (ip netns add).
type NS struct {
	Name string
	h    netns.NsHandle
}

// ID returns a short random hex string for unique names.
func ID() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Skip skips the test unless it runs as root.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

// New creates namespace bbt-<id>-<role> and deletes it at cleanup.
func New(t testing.TB, id, role string) *NS {
	t.Helper()
	Skip(t)
	name := "bbt-" + id + "-" + role
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("netns %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	ns := &NS{Name: name, h: h}
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// IP runs "ip -n <ns> args...".
func (ns *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// Exec runs a command inside the namespace (ip netns exec).
func (ns *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// Do runs f on a throwaway goroutine locked to an OS thread that has
// entered the namespace, and waits. The thread is discarded afterwards, so
// no other goroutine ever runs in the namespace. File descriptors f creates
// stay in the namespace and may be used from anywhere.
func (ns *NS) Do(t testing.TB, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(ns.h); err != nil {
			done <- err
			return
		}
		defer close(done)
		f()
	}()
	if err := <-done; err != nil {
		t.Fatalf("setns %s: %v", ns.Name, err)
	}
}

// Enter locks the calling goroutine to its OS thread and moves that thread
// into the namespace for good: call it first thing in a test function; the
// thread is discarded when the test goroutine ends.
func (ns *NS) Enter(t testing.TB) {
	t.Helper()
	runtime.LockOSThread()
	if err := netns.Set(ns.h); err != nil {
		t.Fatalf("setns %s: %v", ns.Name, err)
	}
}

// Veth creates a veth pair bbt<id>a (in a) <-> bbt<id>b (in b), both up,
// and returns their names. Deleting the namespaces deletes it.
func Veth(t testing.TB, id string, a, b *NS) (string, string) {
	t.Helper()
	na, nb := "bbt"+id+"a", "bbt"+id+"b"
	run(t, "ip", "link", "add", na, "netns", a.Name, "type", "veth", "peer", "name", nb, "netns", b.Name)
	a.IP(t, "link", "set", na, "up")
	b.IP(t, "link", "set", nb, "up")
	// The kernel attaches a veth's qdisc from the link-watch worker once the
	// carrier is on; frames sent before that are dropped. On a loaded
	// machine that takes a while, so wait for both ends to be UP.
	for _, e := range []struct {
		ns  *NS
		dev string
	}{{a, na}, {b, nb}} {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.ns.IP(t, "-o", "link", "show", "dev", e.dev), "state UP") {
			if time.Now().After(deadline) {
				t.Fatalf("veth %s not up after 10s", e.dev)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return na, nb
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
