//go:build integration

package tun

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/bngbox/bngbox/internal/afpacket/nstest"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

// TestIntegrationUpKeepsCallerStackSmall brings sessions up from goroutines
// that stay alive, as session goroutines do, and checks that Up did not grow
// their stacks: netlink receives into a 64 KiB stack array, so requests must
// run on the dataplane's own goroutine (rtnl.runExecLoop). Before that fix
// every session goroutine held 128 KiB of stack.
func TestIntegrationUpKeepsCallerStackSmall(t *testing.T) {
	nstest.Skip(t)
	e := setup(t, Options{}, nil)
	const n = 64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.StackInuse

	var up, release sync.WaitGroup
	release.Add(1)
	errs := make(chan error, n)
	sessions := make([]dataplane.Session, n)
	for i := range n {
		up.Add(1)
		go e.bng.Do(t, func() {
			s, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: e.peer.MAC(), SessionID: uint16(i + 1)})
			if err == nil {
				sessions[i] = s
				err = s.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: netip.AddrFrom4([4]byte{10, 80, 0, byte(i + 1)}),
					LocalIfaceID: 1, PeerIfaceID: uint64(i + 2)})
			}
			errs <- err
			up.Done()
			release.Wait() // stay alive with the stack Up left
		})
	}
	up.Wait()
	runtime.ReadMemStats(&ms)
	grown := int64(ms.StackInuse) - int64(before)
	release.Done()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sessions {
		s.Close()
	}
	// Each session here costs ~40 KiB of stack without Up's share: the go
	// statement's goroutine, nstest's locked goroutine and its new thread's
	// g0 stack, and the TUN reader. With the 64 KiB netlink array on the
	// caller's stack it was ~164 KiB.
	if per := grown / n; per > 64<<10 {
		t.Errorf("stack in use grew %d KiB per session bringing %d sessions up, want <= 64 KiB", per>>10, n)
	}
}

// BenchmarkIntegrationRTNLExec measures one netlink request through
// rtnl.exec (hand-off to runExecLoop, request, ACK): "ip link set lo up".
func BenchmarkIntegrationRTNLExec(b *testing.B) {
	nstest.Skip(b)
	ns := nstest.New(b, nstest.ID(), "bng")
	var err error
	ns.Do(b, func() {
		var r *rtnl
		if r, err = newRTNL(); err != nil {
			return
		}
		defer r.close()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err = r.linkSet(1, 0, 0, false, linkUp); err != nil {
				return
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
}
