package telemetry

import (
	"log/slog"
	"time"

	"github.com/bngbox/bngbox/pkg/session"
)

// maxBatch bounds how many queued items share one store transaction.
const maxBatch = 256

// runPublisher is the only goroutine that publishes session telemetry and
// touches t.states and t.live. It takes items in batches and writes the
// changed states to the store once per batch.
func (t *Telemetry) runPublisher() {
	defer close(t.done)
	dirty := map[string][]byte{}
	for {
		var it item
		select {
		case it = <-t.queue:
		case <-t.stop:
			// Publish what is already queued, then stop.
			for {
				select {
				case it = <-t.queue:
					t.handle(it, dirty)
				default:
					t.flush(dirty)
					return
				}
			}
		}
		t.handle(it, dirty)
	batch:
		for n := 1; n < maxBatch; n++ {
			select {
			case it = <-t.queue:
				t.handle(it, dirty)
			default:
				break batch
			}
		}
		t.flush(dirty)
	}
}

// flush hands the batch's changed states (and, implicitly, the bridge's
// pending messages) to runPersister, so that publishing never waits for
// the disk.
func (t *Telemetry) flush(dirty map[string][]byte) {
	if t.store == nil && t.bridge == nil {
		clear(dirty)
		return
	}
	t.pmu.Lock()
	for u, b := range dirty {
		t.pstate[u] = b
	}
	t.pmu.Unlock()
	clear(dirty)
	select {
	case t.pkick <- struct{}{}:
	default:
	}
}

// persistEvery is the shortest time between two rounds of runPersister.
// Each round commits (and fsyncs) a store transaction; during a burst of
// session setups the publisher flushes small batches continuously, and one
// commit per batch cost the daemon more CPU than publishing them (the
// 10,000-session bench: 10 % of bngbox's CPU in bbolt commits). The latest
// state per user wins, so waiting loses nothing but freshness on a crash,
// which the reconcile at start corrects anyway.
const persistEvery = 250 * time.Millisecond

// runPersister writes to disk what the publisher produced: the changed
// states (the latest per user wins) and the bridge's queue, one transaction
// each per round, at most one round per persistEvery. It ends after the
// publisher has, with a final round.
func (t *Telemetry) runPersister() {
	defer close(t.pdone)
	pause := time.NewTimer(0)
	for {
		select {
		case <-t.pkick:
		case <-t.done:
			t.persist()
			return
		}
		t.persist()
		pause.Reset(persistEvery)
		select {
		case <-pause.C:
		case <-t.done:
		}
	}
}

func (t *Telemetry) persist() {
	if t.bridge != nil {
		t.bridge.flush()
	}
	if t.store == nil {
		return
	}
	t.pmu.Lock()
	states := t.pstate
	t.pstate = map[string][]byte{}
	t.pmu.Unlock()
	if err := t.store.put(states); err != nil {
		if n := t.storeErrs.Add(1); n == 1 || n%100 == 0 {
			t.log.Error("telemetry: persist state", slog.Any("err", err), "errors_total", n)
		}
	}
}

func (t *Telemetry) handle(it item, dirty map[string][]byte) {
	if it.rec != nil {
		t.reconcile(it.rec, dirty)
		t.flush(dirty)
		close(it.rec.done)
		return
	}
	ev := it.ev
	if ev.Time.IsZero() {
		ev.Time = t.now()
	}
	// A line is online from its start event (network phase up), as in
	// accounting: state "since", usage "session_time" and the stop's
	// "duration" all count from there, not from discovery (Info.Started).
	switch known, ok := t.live[ev.Info.User][ev.Info.ID]; {
	case ev.Kind == session.EventStart:
		ev.Info.Started = ev.Time
	case ok:
		ev.Info.Started = known.Started
	}
	in := ev.Info
	user := in.User
	switch ev.Kind {
	case session.EventStart:
		e := eventOf(ev)
		if prev, ok := t.states[user]; ok && prev.State == Offline {
			if since, err := time.Parse(time.RFC3339, prev.Since); err == nil {
				e.OfflineFor = secs(ev.Time.Sub(since))
			}
		}
		t.setLive(in)
		since := in.Started
		if since.IsZero() {
			since = ev.Time
		}
		t.setState(user, onlineState(in, since), dirty)
		t.publish(t.topics.event(user), mustJSON(e), false)
	case session.EventInterim:
		t.updateLive(in)
		t.publish(t.topics.usage(user), mustJSON(usageOf(ev)), false)
	case session.EventRates:
		if t.updateLive(in) {
			if cur, ok := t.states[user]; ok && cur.State == Online && cur.SessionID == in.ID {
				r := ratesOf(in.Rates)
				cur.Rates = &r
				t.setState(user, cur, dirty)
			}
		}
		t.publish(t.topics.event(user), mustJSON(eventOf(ev)), false)
	case session.EventStop:
		t.publish(t.topics.usage(user), mustJSON(usageOf(ev)), false)
		t.publish(t.topics.event(user), mustJSON(eventOf(ev)), false)
		if other, ok := t.removeLive(user, in.ID); ok {
			// Another session of this user is still up: the user is online.
			if cur := t.states[user]; cur.SessionID != other.ID {
				since := other.Started
				if since.IsZero() {
					since = ev.Time
				}
				t.setState(user, onlineState(other, since), dirty)
			}
			return
		}
		t.setState(user, offlineState(ev), dirty)
	case session.EventAuthFail:
		t.publish(t.topics.event(user), mustJSON(eventOf(ev)), false)
	default:
		t.log.Debug("telemetry: unknown session event", "kind", string(ev.Kind))
	}
}

func (t *Telemetry) reconcile(r *reconcileReq, dirty map[string][]byte) {
	now := t.now()
	for user, st := range t.states {
		if st.State != Online || (r.active != nil && r.active(user, st.SessionID)) {
			continue
		}
		if _, live := t.live[user]; live {
			continue // a session started since we came up
		}
		off := State{State: Offline, Since: fmtTime(now), User: user, SessionID: st.SessionID,
			Type: st.Type, Reconciled: true}
		t.setState(user, off, dirty)
		r.n++
	}
	if r.n > 0 {
		t.log.Info("telemetry: marked stale sessions offline", "users", r.n)
	}
}

func (t *Telemetry) setState(user string, st State, dirty map[string][]byte) {
	b := mustJSON(st)
	t.states[user] = st
	dirty[user] = b
	t.publish(t.topics.state(user), b, true)
}

func (t *Telemetry) publish(topic string, payload []byte, retain bool) {
	if err := t.srv.Publish(topic, payload, retain, 1); err != nil {
		t.log.Warn("telemetry: publish", "topic", topic, slog.Any("err", err))
		return
	}
	t.published.Add(1)
	if t.bridge != nil {
		t.bridge.enqueue(topic, payload, retain)
	}
}

func (t *Telemetry) setLive(in session.Info) {
	m := t.live[in.User]
	if m == nil {
		m = map[string]session.Info{}
		t.live[in.User] = m
	}
	m[in.ID] = in
}

// updateLive refreshes a known session's snapshot; false if unknown.
func (t *Telemetry) updateLive(in session.Info) bool {
	m := t.live[in.User]
	if _, ok := m[in.ID]; !ok {
		return false
	}
	m[in.ID] = in
	return true
}

// removeLive forgets a session and returns the most recently started
// session the user still has, if any.
func (t *Telemetry) removeLive(user, id string) (session.Info, bool) {
	m := t.live[user]
	delete(m, id)
	if len(m) == 0 {
		delete(t.live, user)
		return session.Info{}, false
	}
	var best session.Info
	for _, in := range m {
		if best.ID == "" || in.Started.After(best.Started) {
			best = in
		}
	}
	return best, true
}
