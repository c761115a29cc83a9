package session

import (
	"errors"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/ppp"
)

// pppConfig builds the shared, read-only ppp.Config for new sessions.
func (c *Config) pppConfig() *ppp.Config {
	pc := &ppp.Config{
		Role:         ppp.RoleServer,
		Restart:      c.PPP.RestartTimer,
		MaxConfigure: c.PPP.MaxConfigure,
		MaxTerminate: c.PPP.MaxTerminate,
		MaxFailure:   c.PPP.MaxFailure,
		MRU:          uint16(c.PPP.MRU),
		AuthTimeout:  c.PPP.AuthTimeout,
		EchoInterval: c.PPP.EchoInterval,
		EchoFailures: c.PPP.EchoFailure,
		LocalIP:      c.PPP.LocalIP,
		IPv6:         c.PPP.IPv6,
		LocalIfaceID: c.PPP.IPv6IntfID,
	}
	for _, m := range c.PPP.Auth {
		switch m {
		case aaa.PAP:
			pc.Auth |= ppp.AuthPAP
		case aaa.CHAP:
			pc.Auth |= ppp.AuthCHAP
		}
	}
	return pc
}

// causeOf maps why PPP ended to Acct-Terminate-Cause (RFC 2866 §5.10).
func causeOf(r ppp.Reason) aaa.TerminateCause {
	switch r {
	case ppp.ReasonPeerTerminate:
		return aaa.CauseUserRequest
	case ppp.ReasonEchoTimeout, ppp.ReasonLowerDown:
		return aaa.CauseLostCarrier
	case ppp.ReasonAuthFailed:
		return aaa.CauseUserError
	case ppp.ReasonNegotiation, ppp.ReasonLoopback:
		return aaa.CauseServiceUnavailable
	case ppp.ReasonAdmin:
		return aaa.CauseAdminReset
	}
	return aaa.CauseNASError
}

// run is the session goroutine: it owns the PPP link and every field.
func (s *Session) run() {
	link := ppp.New(s.m.pppConfig())
	if s.p.MaxPayload > 0 {
		link.SetPeerMaxPayload(uint16(s.p.MaxPayload))
	}
	s.link = link
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	policy := time.NewTimer(time.Hour)
	defer policy.Stop()

	s.perform(s.open(link, time.Now()))
	for !s.ended {
		if d := link.NextDeadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
		} else {
			timer.Reset(time.Hour)
		}
		if d := s.policyDeadline(); !d.IsZero() {
			policy.Reset(time.Until(d))
		} else {
			policy.Reset(time.Hour)
		}
		select {
		case f := <-s.ctl:
			s.perform(link.Input(time.Now(), f.proto, f.data))
		case fn := <-s.cmds:
			fn()
		case now := <-timer.C:
			s.perform(link.Tick(now))
		case now := <-policy.C:
			s.policyTick(now)
		}
	}
	s.finish(time.Now(), s.downMessage)
}

// open starts PPP: from the LAC's proxied state when there is one the
// link can take over, else from scratch.
func (s *Session) open(link *ppp.Link, now time.Time) []ppp.Effect {
	if s.p.Proxy == nil {
		return link.Open(now)
	}
	fx, err := link.OpenProxy(now, *s.p.Proxy)
	if err != nil {
		s.m.log.Info("proxy LCP/authentication not usable: renegotiating", "id", s.id, "err", err)
		return link.Open(now)
	}
	s.m.log.Debug("PPP taken over from the LAC's proxy LCP/authentication", "id", s.id, "user", s.p.Proxy.Auth.User)
	return fx
}

// perform carries out a Link's effects in order.
func (s *Session) perform(fx []ppp.Effect) {
	for i := range fx {
		e := &fx[i]
		switch e.Kind {
		case ppp.EffectSend:
			if err := s.dp.SendControl(e.Proto, e.Data); err != nil {
				s.m.drops.inc("control-send-error")
			}
		case ppp.EffectAuthRequest:
			s.onAuthRequest(e.Auth)
		case ppp.EffectUp:
			s.onNetUp(e.Net)
		case ppp.EffectDown:
			if s.cause == 0 {
				s.cause = causeOf(e.Reason)
			}
			s.downMessage = e.Message
			s.ended = true
		}
	}
}

func (s *Session) onAuthRequest(a *ppp.AuthRequest) {
	s.req = aaa.Request{
		SessionID: s.id, User: a.User, Password: a.Password, ChapID: a.ChapID,
		Challenge: a.Challenge, Response: a.Response,
		CallingStationID: s.p.CallingSID, CalledStationID: s.m.config().CalledStationID,
		NASPortID: s.p.NASPortID, NASPort: s.p.NASPort, PortType: s.p.PortType,
		Tunnel: s.p.TunnelAuth,
	}
	switch a.Method {
	case ppp.AuthPAP:
		s.req.Method = aaa.PAP
	case ppp.AuthCHAP:
		s.req.Method = aaa.CHAP
	}
	s.authenticate(s.req, s.onVerdict)
}

// onVerdict runs on the session goroutine when AAA has answered.
func (s *Session) onVerdict(reply *aaa.Reply, err error) {
	if s.ended || s.link == nil {
		return
	}
	now := time.Now()
	var rej *aaa.Reject
	if err != nil {
		msg := "authentication failed"
		if errors.As(err, &rej) {
			msg = rej.Message
			s.m.authFail.Add(1)
			s.m.publish(Event{Kind: EventAuthFail, Time: now, Info: s.info(), Source: msg})
		} else {
			s.m.drops.inc("aaa-error")
			msg = "authentication service unavailable"
		}
		s.m.log.Info("authentication failed", "id", s.id, "user", s.req.User, "mac", s.p.MAC.String(), "err", err)
		s.cause = aaa.CauseUserError
		s.perform(s.link.AuthResult(now, false, msg, ppp.NetParams{}))
		return
	}
	s.m.authOK.Add(1)
	if err := s.authorize(reply); err != nil {
		s.m.log.Warn("cannot authorize session", "id", s.id, "user", s.req.User, "err", err)
		s.cause = aaa.CauseNASError
		s.perform(s.link.AuthResult(now, false, "no address available", ppp.NetParams{}))
		return
	}
	np := ppp.NetParams{PeerIP: s.ip, NoIPv6: !s.m.config().PPP.IPv6}
	dns := s.m.config().PPP.DNS
	if len(reply.DNS) > 0 {
		dns = reply.DNS
	}
	for i := 0; i < len(dns) && i < 2; i++ {
		np.DNS[i] = dns[i]
	}
	// The interface exists before IPCP opens so the subscriber's first
	// packets are held rather than lost.
	if err := s.linkUp(0, 0); err != nil {
		s.m.log.Error("dataplane interface failed", "id", s.id, "err", err)
		s.cause = aaa.CauseNASError
		s.perform(s.link.AuthResult(now, false, "service unavailable", ppp.NetParams{}))
		return
	}
	s.perform(s.link.AuthResult(now, true, reply.Message, np))
}

func (s *Session) onNetUp(n *ppp.NetUp) {
	switch n.Proto {
	case ppp.ProtoIPv6CP:
		s.localIfID, s.peerIfID = n.LocalIfaceID, n.PeerIfaceID
		if err := s.linkUp(s.localIfID, s.peerIfID); err != nil {
			s.m.log.Warn("IPv6 link-local setup failed", "id", s.id, "err", err)
		}
	case ppp.ProtoIPCP:
		s.networkUp(time.Now())
	}
}

// close is an administrative termination.
func (s *Session) close(cause aaa.TerminateCause, hard bool) {
	if s.ended {
		return
	}
	if s.cause == 0 {
		s.cause = cause
	}
	if hard || s.link == nil {
		s.ended = true
		return
	}
	s.perform(s.link.Close(time.Now(), ppp.ReasonAdmin))
}

// lowerDown: the peer is gone (PADT, CDN).
func (s *Session) lowerDown(cause aaa.TerminateCause) {
	if s.ended {
		return
	}
	if s.cause == 0 {
		s.cause = cause
	}
	s.peerGone = true // the peer already hung up: no PADT back
	if s.link == nil {
		s.ended = true
		return
	}
	s.perform(s.link.LowerDown(time.Now()))
	s.ended = true
}
