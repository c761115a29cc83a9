package shaper

import (
	"context"
	"fmt"
	"sync"

	"github.com/bngbox/bngbox/pkg/rate"
)

// engine is the part shared by Fake and Netlink: per-interface state,
// locking, planning and counters. exec performs one op.
type engine struct {
	cfg  Config   // defaults applied
	mode Upstream // resolved: UpstreamPolice or UpstreamIFB
	exec func(ctx context.Context, o op) error
	m    metrics

	mu     sync.Mutex
	ifaces map[string]*ifaceState // guarded by mu
	closed bool                   // guarded by mu
}

// ifaceState is the applied state of one interface.
type ifaceState struct {
	mu      sync.Mutex
	applied state // guarded by mu
	dead    bool  // guarded by mu; set when removed from engine.ifaces
}

func newEngine(cfg Config, mode Upstream, exec func(context.Context, op) error) *engine {
	return &engine{cfg: cfg, mode: mode, exec: exec, ifaces: make(map[string]*ifaceState)}
}

// lock returns the locked state of iface, creating it if create is set; it
// returns nil when iface is not tracked and create is false.
func (e *engine) lock(iface string, create bool) (*ifaceState, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		st := e.ifaces[iface]
		if st == nil {
			if !create {
				e.mu.Unlock()
				return nil, nil
			}
			st = &ifaceState{}
			e.ifaces[iface] = st
		}
		e.mu.Unlock()
		st.mu.Lock()
		if !st.dead {
			return st, nil
		}
		st.mu.Unlock() // lost a race with forgetLocked; look again
	}
}

// forgetLocked drops st (whose mu the caller holds) from the table.
func (e *engine) forgetLocked(iface string, st *ifaceState) {
	e.mu.Lock()
	if e.ifaces[iface] == st {
		delete(e.ifaces, iface)
	}
	e.mu.Unlock()
	st.dead = true
}

func (e *engine) set(ctx context.Context, iface string, r rate.Rates) error {
	e.m.sets.Add(1)
	err := e.setRates(ctx, iface, r)
	if err != nil {
		e.m.failed.Add(1)
	}
	return err
}

func (e *engine) setRates(ctx context.Context, iface string, r rate.Rates) error {
	if err := checkIface(iface); err != nil {
		return err
	}
	want, err := desired(e.cfg, e.mode, iface, r)
	if err != nil {
		return fmt.Errorf("shaper: %s: %w", iface, err)
	}
	st, err := e.lock(iface, !want.isZero())
	if err != nil || st == nil {
		return err
	}
	defer st.mu.Unlock()
	err = e.applyLocked(ctx, iface, st, want)
	if st.applied.isZero() { // cleared, or nothing got applied

		e.forgetLocked(iface, st)
	}
	return err
}

func (e *engine) clear(ctx context.Context, iface string) error {
	e.m.clears.Add(1)
	err := e.setRates(ctx, iface, rate.Rates{})
	if err != nil {
		e.m.failed.Add(1)
	}
	return err
}

// applyLocked plans from st.applied to want and runs the ops, recording
// each success in st.applied. When an op fails, the kernel may differ from
// what was recorded (someone ran tc by hand, the interface was recreated),
// so it re-applies everything once with idempotent ops (resync). The caller
// holds st.mu.
func (e *engine) applyLocked(ctx context.Context, iface string, st *ifaceState, want state) error {
	err := e.runLocked(ctx, iface, st, plan(iface, st.applied, want))
	if err == nil || ctx.Err() != nil {
		return err
	}
	e.cfg.Logger.Warn("shaper resync after failure", "iface", iface, slogErr(err))
	e.m.resyncs.Add(1)
	return e.runLocked(ctx, iface, st, resync(iface, st.applied, want))
}

// runLocked runs ops, recording each success in st.applied. The caller
// holds st.mu.
func (e *engine) runLocked(ctx context.Context, iface string, st *ifaceState, ops []op) error {
	for _, o := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("shaper: %s: %w", iface, err)
		}
		if err := e.exec(ctx, o); err != nil {
			e.m.opsFailed.Add(1)
			e.cfg.Logger.Warn("shaper op failed", "iface", iface, "op", o.String(), slogErr(err))
			return fmt.Errorf("shaper: %s: %s: %w", iface, o, err)
		}
		e.m.opsApplied.Add(1)
		o.apply(&st.applied)
	}
	return nil
}

func (e *engine) stats() Stats {
	e.mu.Lock()
	n := len(e.ifaces)
	e.mu.Unlock()
	return Stats{
		Sets:       e.m.sets.Load(),
		Clears:     e.m.clears.Load(),
		Failed:     e.m.failed.Load(),
		OpsApplied: e.m.opsApplied.Load(),
		OpsFailed:  e.m.opsFailed.Load(),
		Resyncs:    e.m.resyncs.Load(),
		Shaped:     n,
	}
}

func (e *engine) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}
