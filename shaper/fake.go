package shaper

import (
	"context"
	"strings"
	"sync"

	"github.com/bngbox/bngbox/pkg/rate"
)

// A Fake is a Shaper that performs no I/O: it plans exactly as Netlink does
// and records each operation as an iproute2 command line.
//
// The fake models a kernel with act_police: Config.Upstream auto means
// police; set UpstreamIFB to model the fallback. Interfaces get ifindexes
// 2, 3, ... in the order they are first seen, unless SetIndex says
// otherwise.
type Fake struct {
	e *engine

	mu      sync.Mutex
	lines   []string               // guarded by mu
	fail    func(cmd string) error // guarded by mu
	indexes map[string]int         // guarded by mu
	ifbs    map[int]bool           // guarded by mu; shared IFBs set up
}

var _ Shaper = (*Fake)(nil)

// NewFake returns a Fake configured like New would be.
func NewFake(cfg Config) *Fake {
	cfg = cfg.withDefaults()
	mode := cfg.Upstream
	if mode == UpstreamAuto {
		mode = UpstreamPolice
	}
	f := &Fake{indexes: map[string]int{}, ifbs: map[int]bool{}}
	f.e = newEngine(cfg, mode, f)
	if mode == UpstreamIFB {
		f.ensureIFB(0) // as New does
	}
	return f
}

// SetIndex sets the ifindex the fake reports for iface; 0 means iface does
// not exist.
func (f *Fake) SetIndex(iface string, idx int) {
	f.mu.Lock()
	f.indexes[iface] = idx
	f.mu.Unlock()
}

func (f *Fake) index(iface string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx, ok := f.indexes[iface]
	if !ok {
		idx = len(f.indexes) + 2
		f.indexes[iface] = idx
	}
	if idx == 0 {
		return 0, errGone
	}
	return idx, nil
}

// ensureIFB records the setup of shared IFB k once (see ifbSetup).
func (f *Fake) ensureIFB(k int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ifbs[k] {
		f.ifbs[k] = true
		f.lines = append(f.lines, ifbSetup(sharedIFB(k))...)
	}
	return nil
}

func (f *Fake) exec(_ context.Context, o op) error {
	cmd := o.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(cmd); err != nil {
			return err
		}
	}
	f.lines = append(f.lines, cmd)
	return nil
}

// FailWith makes every later operation whose command line fn returns an
// error for fail with that error (nil fn: nothing fails). Failed operations
// are not recorded.
func (f *Fake) FailWith(fn func(cmd string) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

// Set implements Shaper.
func (f *Fake) Set(ctx context.Context, iface string, r rate.Rates) error {
	return f.e.set(ctx, iface, r)
}

// Clear implements Shaper.
func (f *Fake) Clear(ctx context.Context, iface string) error { return f.e.clear(ctx, iface) }

// Close implements Shaper.
func (f *Fake) Close() error { f.e.close(); return nil }

// Stats returns the counters.
func (f *Fake) Stats() Stats { return f.e.stats() }

// Take returns the commands recorded since the last Take and forgets them.
func (f *Fake) Take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.lines
	f.lines = nil
	return l
}

// Transcript returns the commands recorded since the last Take, one a line.
func (f *Fake) Transcript() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.lines, "\n")
}
