package shaper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/bngbox/bngbox/pkg/rate"
)

// engine is the part shared by Fake and Netlink: per-interface state,
// locking, planning, the class numbers on the shared IFBs and counters.
type engine struct {
	cfg  Config   // defaults applied
	mode Upstream // resolved: UpstreamPolice or UpstreamIFB
	be   backend
	m    metrics

	mu     sync.Mutex
	ifaces map[string]*ifaceState // guarded by mu
	slots  []map[uint16]string    // guarded by mu; per shared IFB k: class minor → iface
	closed bool                   // guarded by mu
}

// backend is what differs between Fake and Netlink.
type backend interface {
	// exec performs one op. o.Idx is the session interface's index
	// for ops on it.
	exec(ctx context.Context, o op) error
	// index returns the ifindex of a session interface, or an error
	// wrapping errGone when there is no such interface.
	index(iface string) (int, error)
	// ensureIFB makes shared IFB k exist and classify (idempotent).
	ensureIFB(k int) error
}

// errGone means the session interface does not exist (any more).
var errGone = errors.New("no such interface")

// ifaceState is the applied state of one interface.
type ifaceState struct {
	mu       sync.Mutex
	applied  state       // guarded by mu
	reserved []placement // guarded by mu; classes held in engine.slots for this iface
	dead     bool        // guarded by mu; set when removed from engine.ifaces
}

func newEngine(cfg Config, mode Upstream, be backend) *engine {
	return &engine{cfg: cfg, mode: mode, be: be, ifaces: make(map[string]*ifaceState)}
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
	// Check the rates before touching anything (the placement is filled
	// in below).
	want, err := desired(e.cfg, e.mode, r, placement{})
	if err != nil {
		return fmt.Errorf("shaper: %s: %w", iface, err)
	}
	st, err := e.lock(iface, !want.isZero())
	if err != nil || st == nil {
		return err
	}
	defer st.mu.Unlock()
	idx, err := e.be.index(iface)
	gone := errors.Is(err, errGone)
	switch {
	case gone && want.isZero():
		// Clear after the interface went: its qdiscs went with it,
		// only a class on a shared IFB is left to delete.
	case err != nil:
		e.forgetIfEmptyLocked(iface, st)
		return fmt.Errorf("shaper: %s: %w", iface, err)
	case e.mode == UpstreamIFB && wantsUp(r):
		pl, err := e.reserveLocked(iface, st, idx)
		if err != nil {
			e.releaseLocked(iface, st)
			e.forgetIfEmptyLocked(iface, st)
			return fmt.Errorf("shaper: %s: %w", iface, err)
		}
		if want, err = desired(e.cfg, e.mode, r, pl); err != nil {
			return fmt.Errorf("shaper: %s: %w", iface, err)
		}
	}
	err = e.applyLocked(ctx, iface, st, want, idx, gone)
	e.releaseLocked(iface, st)
	e.forgetIfEmptyLocked(iface, st)
	return err
}

// forgetIfEmptyLocked drops iface when nothing is applied on it (cleared,
// or nothing got applied). The caller holds st.mu.
func (e *engine) forgetIfEmptyLocked(iface string, st *ifaceState) {
	if st.applied.isZero() && len(st.reserved) == 0 {
		e.forgetLocked(iface, st)
	}
}

// reserveLocked finds the class for iface (ifindex idx) on a shared IFB:
// the minor is fixed by idx (classMinor); the IFB is the one iface already
// uses, else the first where that minor is free. It records the
// reservation in st and makes sure the IFB exists. The caller holds st.mu.
func (e *engine) reserveLocked(iface string, st *ifaceState, idx int) (placement, error) {
	minor := classMinor(idx)
	if c := st.applied.Class; c.Class == minor {
		return c, nil
	}
	k := -1
	e.mu.Lock()
	for i := range maxIFBs {
		if i == len(e.slots) {
			e.slots = append(e.slots, map[uint16]string{})
		}
		if o, ok := e.slots[i][minor]; !ok || o == iface {
			e.slots[i][minor] = iface
			k = i
			break
		}
	}
	e.mu.Unlock()
	if k < 0 {
		return placement{}, fmt.Errorf("class 1:%x is taken on all %d shared IFBs", minor, maxIFBs)
	}
	pl := placement{IFB: sharedIFB(k), Class: minor}
	if !slices.Contains(st.reserved, pl) {
		st.reserved = append(st.reserved, pl)
	}
	if err := e.be.ensureIFB(k); err != nil {
		return placement{}, fmt.Errorf("shared IFB %s: %w", pl.IFB, err)
	}
	return pl, nil
}

// releaseLocked gives back the classes reserved for iface that it no
// longer uses. The caller holds st.mu.
func (e *engine) releaseLocked(iface string, st *ifaceState) {
	keep := st.reserved[:0]
	e.mu.Lock()
	for _, pl := range st.reserved {
		if pl == st.applied.Class {
			keep = append(keep, pl)
			continue
		}
		if k := sharedIndex(pl.IFB); k >= 0 && k < len(e.slots) && e.slots[k][pl.Class] == iface {
			delete(e.slots[k], pl.Class)
		}
	}
	e.mu.Unlock()
	st.reserved = keep
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
//
// idx is iface's index, stamped on the ops that act on it; gone means
// iface does not exist, so deleting from it is already done.
func (e *engine) applyLocked(ctx context.Context, iface string, st *ifaceState, want state, idx int, gone bool) error {
	err := e.runLocked(ctx, iface, st, plan(iface, st.applied, want), idx, gone)
	if err == nil || ctx.Err() != nil {
		return err
	}
	e.cfg.Logger.Warn("shaper resync after failure", "iface", iface, slogErr(err))
	e.m.resyncs.Add(1)
	return e.runLocked(ctx, iface, st, resync(iface, st.applied, want), idx, gone)
}

// runLocked runs ops, recording each success in st.applied. The caller
// holds st.mu.
func (e *engine) runLocked(ctx context.Context, iface string, st *ifaceState, ops []op, idx int, gone bool) error {
	for _, o := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("shaper: %s: %w", iface, err)
		}
		if o.onIface() {
			if gone && o.isDelete() {
				o.apply(&st.applied)
				continue
			}
			o.Idx = idx
		}
		if err := e.be.exec(ctx, o); err != nil {
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
