package session

import (
	"context"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

// replyAuth accepts everyone with a fixed Reply (a RADIUS Access-Accept).
type replyAuth struct{ r aaa.Reply }

func (a replyAuth) Authenticate(context.Context, *aaa.Request) (*aaa.Reply, error) {
	r := a.r
	return &r, nil
}

func TestInterimJitterSpreadsOverInterval(t *testing.T) {
	const iv = time.Minute
	var firstHalf, secondHalf int
	for range 2000 {
		d := interimJitter(iv)
		if d <= iv/10 || d > iv {
			t.Fatalf("interimJitter(%v) = %v, want (%v, %v]", iv, d, iv/10, iv)
		}
		if d <= iv*11/20 {
			firstHalf++
		} else {
			secondHalf++
		}
	}
	// Uniform over (iv/10, iv]: each half of that range gets about 1000
	// of 2000; 800 is > 9 sigma away.
	if firstHalf < 800 || secondHalf < 800 {
		t.Errorf("not spread: %d in the first half, %d in the second", firstHalf, secondHalf)
	}
}

func TestIdleCheckEvery(t *testing.T) {
	for _, tc := range []struct {
		idle, want time.Duration
	}{
		{idle: 10 * time.Minute, want: 150 * time.Second},
		{idle: 8 * time.Second, want: 2 * time.Second},
		{idle: 2 * time.Second, want: time.Second},
		{idle: 100 * time.Millisecond, want: time.Second},
	} {
		if got := idleCheckEvery(tc.idle); got != tc.want {
			t.Errorf("idleCheckEvery(%v) = %v, want %v", tc.idle, got, tc.want)
		}
	}
}

// TestSessionTimeouts: Session-Timeout and Idle-Timeout from the reply end
// the session with the matching Acct-Terminate-Cause (and an LCP
// Terminate + PADT, as an admin stop); traffic keeps an idle timer off.
func TestSessionTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		// reply from AAA
		reply aaa.Reply
		// traffic moves the counters for this long after the session is up
		traffic   time.Duration
		wantCause aaa.TerminateCause
		// the session must still be up this long after it came up
		minLife time.Duration
	}{
		{name: "session timeout", reply: aaa.Reply{SessionTimeout: 1500 * time.Millisecond}, wantCause: aaa.CauseSessionTimeout, minLife: 1400 * time.Millisecond},
		{name: "idle timeout", reply: aaa.Reply{IdleTimeout: 1500 * time.Millisecond}, wantCause: aaa.CauseIdleTimeout, minLife: 1400 * time.Millisecond},
		{name: "traffic defers idle", reply: aaa.Reply{IdleTimeout: 1500 * time.Millisecond}, traffic: 2 * time.Second, wantCause: aaa.CauseIdleTimeout, minLife: 3400 * time.Millisecond},
		{name: "session timeout despite traffic", reply: aaa.Reply{SessionTimeout: 1500 * time.Millisecond, IdleTimeout: time.Hour}, traffic: 3 * time.Second, wantCause: aaa.CauseSessionTimeout, minLife: 1400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.m.deps.Auth = replyAuth{tc.reply}
			c := e.dial("carol", "pw")
			c.pump("IPCP up", func() bool { return c.up })
			waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
			up := time.Now()
			var st dataplane.Stats
			for time.Since(up) < tc.traffic && e.m.Len() == 1 {
				st.RxPackets++
				st.RxBytes += 100
				c.fs.SetStats(st)
				time.Sleep(100 * time.Millisecond)
			}
			deadline := time.Now().Add(tc.minLife + 5*time.Second)
			for e.m.Len() != 0 {
				if time.Now().After(deadline) {
					t.Fatal("session still up")
				}
				sent := c.fs.Sent()
				for ; c.seen < len(sent); c.seen++ {
					c.perform(c.link.Input(time.Now(), sent[c.seen].Proto, sent[c.seen].Payload))
				}
				time.Sleep(5 * time.Millisecond)
			}
			if life := time.Since(up); life < tc.minLife {
				t.Errorf("session ended after %v, want at least %v", life, tc.minLife)
			}
			stops := e.rec.stops()
			if len(stops) != 1 || stops[0].Cause != tc.wantCause {
				t.Fatalf("stops = %+v, want one with cause %v", stops, tc.wantCause)
			}
			c.pump("client down (LCP Terminate from the AC)", func() bool { return c.down })
			if h := c.h.calls(); len(h) != 1 || h[0] {
				t.Errorf("hangups = %v, want one PADT", h)
			}
		})
	}
}

// TestInterimFirstIsJittered: the first interim comes after the jitter,
// later ones every interval (RADIUS Acct-Interim-Interval wins over config).
func TestInterimFirstIsJittered(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.InterimInterval = time.Hour })
	var asked time.Duration
	e.m.jitter = func(iv time.Duration) time.Duration { asked = iv; return 50 * time.Millisecond }
	e.m.deps.Auth = replyAuth{aaa.Reply{InterimInterval: 400 * time.Millisecond}}
	c := e.dial("carol", "pw")
	c.pump("IPCP up", func() bool { return c.up })
	interims := func() []aaa.AcctRecord {
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		var out []aaa.AcctRecord
		for _, a := range e.rec.acct {
			if a.Type == aaa.AcctStart || a.Type == aaa.AcctInterim {
				out = append(out, a)
			}
		}
		return out
	}
	waitFor(t, "start and two interims", func() bool { return len(interims()) >= 3 })
	recs := interims()
	if recs[0].Type != aaa.AcctStart || recs[1].Type != aaa.AcctInterim || recs[2].Type != aaa.AcctInterim {
		t.Fatalf("records %v %v %v", recs[0].Type, recs[1].Type, recs[2].Type)
	}
	if asked != 400*time.Millisecond {
		t.Errorf("jitter asked for interval %v, want the RADIUS one (400ms)", asked)
	}
	if d := recs[1].Time.Sub(recs[0].Time); d >= 400*time.Millisecond {
		t.Errorf("first interim %v after start: not jittered (want ~50ms)", d)
	}
	if d := recs[2].Time.Sub(recs[1].Time); d < 390*time.Millisecond {
		t.Errorf("second interim %v after the first, want the interval (400ms)", d)
	}
}

// TestChangeTimeouts: a live Change (CoA) arms a Session-Timeout counted
// from the change, lifts an Idle-Timeout from the Access-Accept, and records
// the Filter-Id, all without dropping the session.
func TestChangeTimeouts(t *testing.T) {
	e := newEnv(t, nil)
	e.m.deps.Auth = replyAuth{aaa.Reply{IdleTimeout: 1500 * time.Millisecond}}
	c := e.dial("carol", "pw")
	c.pump("IPCP up", func() bool { return c.up })
	waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
	noIdle, st, filter := time.Duration(0), 2500*time.Millisecond, "gold"
	changed := time.Now()
	if n := e.m.Select(context.Background(), func(*Info) bool { return true }, func(s *Session) {
		s.Apply(Change{IdleTimeout: &noIdle, SessionTimeout: &st, FilterID: &filter}, "coa")
	}); n != 1 {
		t.Fatalf("Select matched %d sessions", n)
	}
	var in Info
	waitFor(t, "the change in the session's info", func() bool {
		e.m.Select(context.Background(), func(i *Info) bool { in = *i; return false }, func(*Session) {})
		return in.FilterID == "gold"
	})
	if in.IdleTimeout != 0 || in.SessionTimeout < 2 || in.SessionTimeout > 4 {
		t.Errorf("info after the change: idle %d s, session timeout %d s; want 0 and 2–4", in.IdleTimeout, in.SessionTimeout)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.m.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("session still up 10 s after a 2.5 s Session-Timeout")
		}
		sent := c.fs.Sent()
		for ; c.seen < len(sent); c.seen++ {
			c.perform(c.link.Input(time.Now(), sent[c.seen].Proto, sent[c.seen].Payload))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The idle limit (1.5 s, no traffic) would have ended it first.
	if life := time.Since(changed); life < 2400*time.Millisecond {
		t.Errorf("session ended %v after the change, want the new 2.5 s Session-Timeout", life)
	}
	stops := e.rec.stops()
	if len(stops) != 1 || stops[0].Cause != aaa.CauseSessionTimeout {
		t.Fatalf("stops = %+v, want one with cause Session-Timeout", stops)
	}
}
