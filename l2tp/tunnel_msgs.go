package l2tp

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// Received tunnel-level messages (RFC 2661 §6.1–§6.3, §7.2).

// ErrTunnelAuth is wrapped in the Err of a tunnel-down event when tunnel
// authentication failed.
var ErrTunnelAuth = errors.New("l2tp: tunnel authentication failed")

func (t *Tunnel) refuse(now time.Time, code uint16, msg string, e *Effects) error {
	err := fmt.Errorf("%w: %s", ErrTunnelAuth, msg)
	if code != StopNotAuthorized {
		err = fmt.Errorf("l2tp: %s", msg)
	}
	t.stop(now, Result{Code: code, Message: msg}, err, e)
	return err
}

func (t *Tunnel) peerParams(m *Message) error {
	t.peerID, _ = m.Uint16(AVPAssignedTunnelID)
	if t.peerID == 0 {
		return fmt.Errorf("assigned tunnel ID 0")
	}
	t.ch.PeerTunnelID = t.peerID
	if v, _ := m.Bytes(AVPProtocolVersion); !bytes.Equal(v, []byte{1, 0}) {
		return fmt.Errorf("protocol version %x", v)
	}
	t.peerHost = m.String(AVPHostName)
	if w, ok := m.Uint16(AVPReceiveWindowSize); ok {
		t.ch.SetPeerWindow(w)
	}
	return nil
}

func (t *Tunnel) rxSCCRQ(now time.Time, m *Message, e *Effects) error {
	if t.cfg.Role != RoleLNS || t.state != TunnelIdle {
		return fmt.Errorf("%w: SCCRQ in %s", ErrBadTransition, t.state)
	}
	if err := t.peerParams(m); err != nil {
		if t.peerID == 0 {
			t.state = TunnelClosed
			return err
		}
		code := StopGeneralError
		if v, _ := m.Bytes(AVPProtocolVersion); !bytes.Equal(v, []byte{1, 0}) {
			code = StopBadVersion
		}
		return t.refuse(now, code, err.Error(), e)
	}
	if t.secret == nil && t.cfg.LookupSecret != nil {
		if s, ok := t.cfg.LookupSecret(t.peerHost); ok {
			t.secret = s
		}
	}
	peerChal, challenged := m.Bytes(AVPChallenge)
	switch {
	case len(t.secret) == 0 && t.cfg.RequireAuth:
		return t.refuse(now, StopNotAuthorized, "no secret for "+t.peerHost, e)
	case len(t.secret) == 0 && challenged:
		return t.refuse(now, StopNotAuthorized, "challenged but no secret for "+t.peerHost, e)
	}
	r := t.startMsg(MsgSCCRP)
	if challenged {
		r.Add(AVPChallengeResponse, chapResponse(MsgSCCRP, t.secret, peerChal))
	}
	if len(t.secret) > 0 {
		t.challenge = t.random(16)
		r.Add(AVPChallenge, t.challenge)
	}
	t.state = TunnelWaitCtlConn
	t.send(now, 0, r, e)
	return nil
}

func (t *Tunnel) rxSCCRP(now time.Time, m *Message, e *Effects) error {
	if t.cfg.Role != RoleLAC || t.state != TunnelWaitCtlReply {
		return fmt.Errorf("%w: SCCRP in %s", ErrBadTransition, t.state)
	}
	if err := t.peerParams(m); err != nil {
		return t.refuse(now, StopGeneralError, err.Error(), e)
	}
	if t.challenge != nil {
		resp, _ := m.Bytes(AVPChallengeResponse)
		if subtle.ConstantTimeCompare(resp, chapResponse(MsgSCCRP, t.secret, t.challenge)) != 1 {
			return t.refuse(now, StopNotAuthorized, "bad challenge response from "+t.peerHost, e)
		}
	}
	r := NewMessage(MsgSCCCN)
	if peerChal, ok := m.Bytes(AVPChallenge); ok {
		if len(t.secret) == 0 {
			return t.refuse(now, StopNotAuthorized, "challenged but no secret", e)
		}
		r.Add(AVPChallengeResponse, chapResponse(MsgSCCCN, t.secret, peerChal))
	} else if t.cfg.RequireAuth {
		return t.refuse(now, StopNotAuthorized, "peer did not challenge", e)
	}
	t.send(now, 0, r, e)
	t.up(now, e)
	return nil
}

func (t *Tunnel) rxSCCCN(now time.Time, m *Message, e *Effects) error {
	if t.cfg.Role != RoleLNS || t.state != TunnelWaitCtlConn {
		return fmt.Errorf("%w: SCCCN in %s", ErrBadTransition, t.state)
	}
	if t.challenge != nil {
		resp, _ := m.Bytes(AVPChallengeResponse)
		if subtle.ConstantTimeCompare(resp, chapResponse(MsgSCCCN, t.secret, t.challenge)) != 1 {
			return t.refuse(now, StopNotAuthorized, "bad challenge response from "+t.peerHost, e)
		}
	}
	t.up(now, e)
	return nil
}

func (t *Tunnel) up(now time.Time, e *Effects) {
	t.state = TunnelEstablished
	t.helloAt = now.Add(t.cfg.HelloInterval)
	e.Events = append(e.Events, Event{Kind: EventTunnelUp})
}

// allocSID returns a free local session ID, 0 when all are taken.
func (t *Tunnel) allocSID() uint16 {
	for range 0xffff {
		sid := t.nextSID
		t.nextSID++
		if t.nextSID == 0 {
			t.nextSID = 1
		}
		if _, used := t.calls[sid]; !used && sid != 0 {
			return sid
		}
	}
	return 0
}

// Received session-level messages (RFC 2661 §6.10–§6.13, §7.4).

func (t *Tunnel) rxICRQ(now time.Time, hsid uint16, m *Message, e *Effects) error {
	psid, _ := m.Uint16(AVPAssignedSessionID)
	if t.cfg.Role != RoleLNS || t.state != TunnelEstablished || hsid != 0 || psid == 0 {
		return fmt.Errorf("%w: ICRQ (session %d) in %s", ErrBadTransition, hsid, t.state)
	}
	sid := t.allocSID()
	if sid == 0 {
		cdn := NewMessage(MsgCDN)
		cdn.Add(AVPResultCode, Result{Code: CDNNoFacilitiesTemp, Error: ErrCodeResources}.Append(nil))
		cdn.AddUint16(AVPAssignedSessionID, 0)
		t.send(now, psid, cdn, e)
		return fmt.Errorf("l2tp: no free session ID")
	}
	c := &call{state: SessionWaitConnect}
	c.info = CallInfo{TunnelID: t.cfg.LocalID, SessionID: sid, PeerTunnelID: t.peerID, PeerSessionID: psid, PeerHostName: t.peerHost}
	c.info.fillICRQ(m)
	t.addCall(now, sid, c)
	r := NewMessage(MsgICRP)
	r.AddUint16(AVPAssignedSessionID, sid)
	t.send(now, psid, r, e)
	return nil
}

func (t *Tunnel) rxICRP(now time.Time, hsid uint16, m *Message, e *Effects) error {
	c := t.calls[hsid]
	if c == nil || c.state != SessionWaitReply {
		return fmt.Errorf("%w: ICRP for session %d", ErrBadTransition, hsid)
	}
	c.info.PeerSessionID, _ = m.Uint16(AVPAssignedSessionID)
	p := &c.params
	r := NewMessage(MsgICCN)
	r.AddUint32(AVPTxConnectSpeed, p.TxConnectSpeed)
	r.AddUint32(AVPFramingType, p.FramingType)
	if p.SequencingRequired {
		r.Add(AVPSequencingRequired, nil)
	}
	addProxy(r, p.Proxy)
	c.state = SessionEstablished
	c.info.TxConnectSpeed, c.info.FramingType = p.TxConnectSpeed, p.FramingType
	c.info.SequencingRequired, c.info.Proxy = p.SequencingRequired, p.Proxy
	t.send(now, c.info.PeerSessionID, r, e)
	info := c.info
	e.Events = append(e.Events, Event{Kind: EventCallUp, SessionID: hsid, Call: &info})
	return nil
}

func (t *Tunnel) rxICCN(hsid uint16, m *Message, e *Effects) error {
	c := t.calls[hsid]
	if c == nil || c.state != SessionWaitConnect {
		return fmt.Errorf("%w: ICCN for session %d", ErrBadTransition, hsid)
	}
	c.info.fillICCN(m)
	c.state = SessionEstablished
	info := c.info
	e.Events = append(e.Events, Event{Kind: EventCallUp, SessionID: hsid, Call: &info})
	return nil
}

func (t *Tunnel) rxCDN(hsid uint16, m *Message, e *Effects) error {
	c := t.calls[hsid]
	if c == nil && hsid == 0 {
		// The peer clears a call before it learnt our session ID (CDN, RFC 2661
		// §6.13): its Assigned Session ID names the call.
		psid, _ := m.Uint16(AVPAssignedSessionID)
		for sid, cc := range t.calls {
			if cc.info.PeerSessionID == psid && psid != 0 {
				c, hsid = cc, sid
				break
			}
		}
	}
	if c == nil {
		return fmt.Errorf("%w: CDN for unknown session %d", ErrBadTransition, hsid)
	}
	r, _ := m.Result()
	delete(t.calls, hsid)
	callEnded(hsid, c, r, e)
	return nil
}

// Call places an incoming call (LAC): it sends ICRQ and returns the local
// session ID. EventCallUp follows when the LNS answers and ICCN is sent.
func (t *Tunnel) Call(now time.Time, p CallParams) (uint16, Effects, error) {
	var e Effects
	if t.cfg.Role != RoleLAC || t.state != TunnelEstablished {
		return 0, e, fmt.Errorf("%w: call in %s", ErrBadTransition, t.state)
	}
	sid := t.allocSID()
	if sid == 0 {
		return 0, e, fmt.Errorf("l2tp: no free session ID")
	}
	if p.FramingType == 0 {
		p.FramingType = FramingSync
	}
	if p.TxConnectSpeed == 0 {
		p.TxConnectSpeed = 10_000_000
	}
	if p.SerialNumber == 0 {
		t.nextSerial++
		p.SerialNumber = t.nextSerial
	}
	if p.BearerType == 0 {
		p.BearerType = BearerDigital
	}
	c := &call{state: SessionWaitReply, params: p}
	c.info = CallInfo{TunnelID: t.cfg.LocalID, SessionID: sid, PeerTunnelID: t.peerID, PeerHostName: t.peerHost,
		SerialNumber: p.SerialNumber, BearerType: p.BearerType, CalledNumber: p.CalledNumber, CallingNumber: p.CallingNumber}
	t.addCall(now, sid, c)
	m := NewMessage(MsgICRQ)
	m.AddUint16(AVPAssignedSessionID, sid)
	m.AddUint32(AVPCallSerialNumber, p.SerialNumber)
	m.AddUint32(AVPBearerType, p.BearerType)
	if p.CalledNumber != "" {
		m.Add(AVPCalledNumber, []byte(p.CalledNumber))
	}
	if p.CallingNumber != "" {
		m.Add(AVPCallingNumber, []byte(p.CallingNumber))
	}
	t.send(now, 0, m, &e)
	return sid, e, nil
}

// CloseCall sends CDN with result r for call sid (ours) and forgets it. An
// established call reports EventCallDown, another EventCallFailed.
func (t *Tunnel) CloseCall(now time.Time, sid uint16, r Result) (Effects, error) {
	var e Effects
	if t.calls[sid] == nil || t.state != TunnelEstablished {
		return e, fmt.Errorf("%w: close call %d in %s", ErrBadTransition, sid, t.state)
	}
	t.closeCall(now, sid, r, &e)
	return e, nil
}

func (t *Tunnel) closeCall(now time.Time, sid uint16, r Result, e *Effects) {
	c := t.calls[sid]
	m := NewMessage(MsgCDN)
	m.Add(AVPResultCode, r.Append(nil))
	m.AddUint16(AVPAssignedSessionID, sid)
	t.send(now, c.info.PeerSessionID, m, e)
	delete(t.calls, sid)
	callEnded(sid, c, r, e)
}
