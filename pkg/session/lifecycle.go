package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/rate"
)

// authenticate asks AAA off the session goroutine; the verdict comes back
// through cmds. The request is copied: the session may change its own.
func (s *Session) authenticate(req aaa.Request, verdict func(*aaa.Reply, error)) {
	timeout := s.m.config().PPP.AuthTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		reply, err := s.m.deps.Auth.Authenticate(ctx, &req)
		s.do(context.Background(), func() { verdict(reply, err) })
	}()
}

// authorize turns an Access-Accept into an address and rates, and brings the
// interface up so the first packets after IPCP are not lost.
func (s *Session) authorize(reply *aaa.Reply) error {
	s.reply = reply
	ip, pool, err := s.m.allocate(reply)
	if err != nil {
		return err
	}
	s.ip, s.pool = ip, pool
	s.authRates = reply.Rates
	if s.authRates.IsZero() {
		s.authRates = s.m.config().DefaultRates
	}
	return nil
}

// allocate picks the subscriber's address: the one AAA assigned (reserved in
// the pool that holds it, if any), else one from the named or default pool.
func (m *Manager) allocate(reply *aaa.Reply) (netip.Addr, *ippool.Pool, error) {
	if reply.FramedIP.IsValid() {
		for _, p := range m.deps.Pools {
			if p.Contains(reply.FramedIP) {
				if err := p.Reserve(reply.FramedIP); err != nil {
					return netip.Addr{}, nil, err
				}
				return reply.FramedIP, p, nil
			}
		}
		return reply.FramedIP, nil, nil // outside our pools: the operator's business
	}
	if len(m.deps.Pools) == 0 {
		return netip.Addr{}, nil, errors.New("no address pool configured")
	}
	pool := m.deps.Pools[0]
	if reply.Pool != "" {
		pool = nil
		for _, p := range m.deps.Pools {
			if p.Name() == reply.Pool {
				pool = p
			}
		}
		if pool == nil {
			return netip.Addr{}, nil, fmt.Errorf("pool %q is not configured", reply.Pool)
		}
	}
	a, err := pool.Get()
	return a, pool, err
}

// linkUp (re)configures the dataplane interface.
func (s *Session) linkUp(localIfID, peerIfID uint64) error {
	cfg := s.m.config()
	mtu := cfg.PPP.MRU
	if s.link != nil {
		if _, peer := s.link.MRU(); peer > 0 && int(peer) < mtu {
			mtu = int(peer)
		}
	}
	if err := s.dp.Up(dataplane.LinkConfig{LocalIP: cfg.PPP.LocalIP, PeerIP: s.ip, LocalIfaceID: localIfID, PeerIfaceID: peerIfID, MTU: mtu}); err != nil {
		return err
	}
	s.ifname = s.dp.Interface()
	return nil
}

// networkUp is called once when the first NCP (IPCP) opens: the session is
// active, accounting starts, shaping is applied.
func (s *Session) networkUp(now time.Time) {
	if s.stateNow() == Active {
		return
	}
	s.state.Store(Active)
	s.upAt = now
	s.m.setups.add(now)
	s.applyRates(s.authRates, "")
	s.account(aaa.AcctStart, now)
	s.acctStarted = true
	s.armPolicy(now)
	s.m.publish(Event{Kind: EventStart, Time: now, Info: s.info()})
	s.m.log.Info("session up", "id", s.id, "user", s.req.User, "ip", s.ip, "ifname", s.ifname, "port", s.p.Port, "mac", s.p.MAC.String(), "rates", s.rates.String())
}

// applyRates records and (off this goroutine) applies rates.
func (s *Session) applyRates(r rate.Rates, source string) {
	changed := r != s.rates
	s.rates = r
	if s.m.deps.Shaper == nil || s.ifname == "" {
		return
	}
	if !changed && source != "" {
		return
	}
	var done func(error)
	if source == "" && s.m.config().ShapeMandatory {
		done = func(err error) {
			if err != nil {
				s.terminate(aaa.CauseNASError, false)
			}
		}
	}
	job := shapeJob{iface: s.ifname, rates: r, clear: r.IsZero(), done: done}
	if source == "" && !job.clear {
		job.up, job.at = true, time.Now()
		s.m.lastUpJob.Store(job.at.UnixNano()) // before the send: the shaper goroutine reads it
	}
	select {
	case s.m.shapeQ <- job:
	default:
		s.m.drops.inc("shaper-queue-full")
		if done != nil {
			done(errors.New("shaper queue full"))
		}
	}
	if source != "" {
		s.m.publish(Event{Kind: EventRates, Time: time.Now(), Info: s.info(), Source: source})
		s.m.log.Info("session rates changed", "id", s.id, "user", s.req.User, "rates", r.String(), "source", source)
	}
}

func (s *Session) account(t aaa.AcctType, now time.Time) {
	rec := &aaa.AcctRecord{Type: t, Time: now, Request: &s.req, Reply: s.reply, FramedIP: s.ip, Cause: s.cause}
	if s.acctStarted || t == aaa.AcctStart {
		rec.SessionTime = now.Sub(s.upAt)
	}
	if s.dp != nil {
		rec.Stats = s.dp.Stats()
	}
	if err := s.m.deps.Acct.Account(rec); err != nil {
		s.m.log.Error("accounting record not taken", "id", s.id, "type", t.String(), "err", err)
	}
}

func (s *Session) interim(now time.Time) {
	if s.stateNow() != Active {
		return
	}
	s.account(aaa.AcctInterim, now)
	s.m.publish(Event{Kind: EventInterim, Time: now, Info: s.info()})
}

// interimInterval is RADIUS's Acct-Interim-Interval when given, else config.
func (s *Session) interimInterval() time.Duration {
	if s.reply != nil && s.reply.InterimInterval > 0 {
		return s.reply.InterimInterval
	}
	return s.m.config().InterimInterval
}

// finish releases everything the session holds. It runs once, last, on the
// session goroutine.
func (s *Session) finish(now time.Time, message string) {
	s.state.Store(Finishing)
	if s.cause == 0 {
		s.cause = aaa.CauseNASError
	}
	info := s.info()
	if s.acctStarted {
		s.account(aaa.AcctStop, now)
		s.m.publish(Event{Kind: EventStop, Time: now, Info: info, Cause: s.cause, Duration: now.Sub(s.upAt)})
		s.m.log.Info("session down", "id", s.id, "user", s.req.User, "ip", s.ip, "cause", s.cause.String(), "duration", now.Sub(s.upAt).Round(time.Second))
	}
	if s.ifname != "" && s.m.deps.Shaper != nil && !s.rates.IsZero() {
		select {
		case s.m.shapeQ <- shapeJob{iface: s.ifname, clear: true}:
		default:
		}
	}
	if s.dp != nil {
		s.dp.Close()
	}
	if s.pool != nil {
		s.pool.Put(s.ip)
	}
	if s.p.Access != nil {
		s.p.Access.Hangup(message, s.peerGone)
	}
	s.m.remove(s)
	close(s.done)
}
