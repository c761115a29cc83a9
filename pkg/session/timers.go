package session

import (
	"math/rand/v2"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

// policy holds a session's per-session timers once it is active: interim
// accounting, Session-Timeout and Idle-Timeout (RFC 2865 §5.27, §5.28).
// It belongs to the session goroutine; zero times are "not armed".
type policy struct {
	nextInterim time.Time
	sessionEnd  time.Time

	idle       time.Duration
	nextIdle   time.Time // next look at the counters
	lastActive time.Time // last time the counters were seen to move
	lastStats  dataplane.Stats
}

// minIdleCheck bounds how often the counters are read for Idle-Timeout.
const minIdleCheck = time.Second

// interimJitter picks when the first interim of a session is due: uniformly
// over (iv/10, iv], so sessions that came up together (a reboot, an outage)
// do not all report at once. Later interims follow every iv.
func interimJitter(iv time.Duration) time.Duration {
	// Not in the first tenth: an interim right after the Start says
	// nothing the Start did not.
	floor := iv / 10
	return floor + time.Duration(rand.Int64N(int64(iv-floor))) + 1
}

// idleCheckEvery is how often idle counters are read: a quarter of the
// timeout, so an idle session ends between idle and 1.25×idle.
func idleCheckEvery(idle time.Duration) time.Duration {
	return max(idle/4, minIdleCheck)
}

// armPolicy starts the timers when the session becomes active.
func (s *Session) armPolicy(now time.Time) {
	p := &s.pol
	if iv := s.interimInterval(); iv > 0 {
		p.nextInterim = now.Add(s.m.jitter(iv))
	}
	if s.reply == nil {
		return
	}
	if st := s.reply.SessionTimeout; st > 0 {
		p.sessionEnd = s.upAt.Add(st)
	}
	if it := s.reply.IdleTimeout; it > 0 {
		p.idle = it
		p.lastActive = now
		p.lastStats = s.dp.Stats()
		p.nextIdle = now.Add(idleCheckEvery(it))
	}
}

// applyChange applies a live change (session goroutine). The reply is
// copied, never modified in place: accounting records may still refer to
// the old one.
func (s *Session) applyChange(c Change, source string, now time.Time) {
	var rep aaa.Reply
	if s.reply != nil {
		rep = *s.reply
	}
	active := s.stateNow() == Active
	p := &s.pol
	if c.SessionTimeout != nil {
		rep.SessionTimeout = *c.SessionTimeout
		p.sessionEnd = time.Time{}
		if *c.SessionTimeout > 0 && active {
			// Kept as the total since the session came up, as an
			// Access-Accept's is, so show sessions stays consistent.
			rep.SessionTimeout = now.Sub(s.upAt) + *c.SessionTimeout
			p.sessionEnd = now.Add(*c.SessionTimeout)
		}
	}
	if c.IdleTimeout != nil {
		rep.IdleTimeout = *c.IdleTimeout
		p.idle, p.nextIdle = 0, time.Time{}
		if it := *c.IdleTimeout; it > 0 && active {
			p.idle = it
			p.lastActive = now
			p.lastStats = s.dp.Stats()
			p.nextIdle = now.Add(idleCheckEvery(it))
		}
	}
	if c.FilterID != nil {
		rep.FilterID = *c.FilterID
	}
	s.reply = &rep
	if c.InterimInterval != nil {
		rep.InterimInterval = *c.InterimInterval
		if active {
			p.nextInterim = time.Time{}
			if iv := s.interimInterval(); iv > 0 {
				p.nextInterim = now.Add(iv)
			}
		}
	}
	s.m.log.Info("session changed", "id", s.id, "user", s.req.User, "source", source,
		"session_timeout", rep.SessionTimeout, "idle_timeout", rep.IdleTimeout,
		"interim_interval", s.interimInterval(), "filter_id", rep.FilterID)
	if c.Rates != nil {
		s.applyRates(*c.Rates, source)
	}
}

// policyDeadline is the earliest armed policy timer (zero: none).
func (s *Session) policyDeadline() time.Time {
	var d time.Time
	for _, t := range []time.Time{s.pol.nextInterim, s.pol.sessionEnd, s.pol.nextIdle} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// policyTick runs whatever policy timer is due at now.
func (s *Session) policyTick(now time.Time) {
	p := &s.pol
	if s.stateNow() != Active {
		return
	}
	if !p.sessionEnd.IsZero() && !now.Before(p.sessionEnd) {
		*p = policy{} // ending: no more timers
		s.m.log.Info("session timeout", "id", s.id, "user", s.req.User, "session_timeout", s.reply.SessionTimeout)
		s.close(aaa.CauseSessionTimeout, false)
		return
	}
	if !p.nextIdle.IsZero() && !now.Before(p.nextIdle) {
		if st := s.dp.Stats(); st != p.lastStats {
			p.lastStats, p.lastActive = st, now
		}
		if now.Sub(p.lastActive) >= p.idle {
			idle := p.idle
			*p = policy{}
			s.m.log.Info("idle timeout", "id", s.id, "user", s.req.User, "idle_timeout", idle)
			s.close(aaa.CauseIdleTimeout, false)
			return
		}
		p.nextIdle = now.Add(min(idleCheckEvery(p.idle), p.lastActive.Add(p.idle).Sub(now)))
	}
	if !p.nextInterim.IsZero() && !now.Before(p.nextInterim) {
		s.interim(now)
		p.nextInterim = time.Time{}
		if iv := s.interimInterval(); iv > 0 {
			p.nextInterim = now.Add(iv)
		}
	}
}
