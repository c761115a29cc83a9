package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A Proxy is the PPP state an L2TP LAC negotiated with the subscriber before
// it tunnelled the call (proxy LCP and proxy authentication, RFC 2661
// §4.4.5, §18): the LCP options each side last asked for, and the
// subscriber's credentials.
type Proxy struct {
	// LocalOptions are the options of the last LCP Configure-Request sent
	// by our side of the link: the LAC's (Last Sent LCP CONFREQ) for a
	// server, the subscriber's own for a client.
	LocalOptions []byte
	// PeerOptions are the options of the last LCP Configure-Request the
	// other side sent: the subscriber's (Last Received LCP CONFREQ) for a
	// server, the LAC's for a client.
	PeerOptions []byte
	// Auth is the authentication exchange: Method AuthPAP or AuthCHAP;
	// ChapID is the Identifier of the CHAP Challenge/Response or of the
	// PAP Authenticate-Request. A server takes User, Password (PAP),
	// Challenge and Response (CHAP) as the subscriber's credentials. A
	// client needs only Method, ChapID and, for CHAP, the Response it
	// sent (to retransmit it).
	Auth AuthRequest
}

// ErrProxy is returned (wrapped) by OpenProxy for proxy state it cannot
// take over; the owner then negotiates from scratch with Open.
var ErrProxy = errors.New("ppp: unusable proxy state")

// OpenProxy starts the link in the state a LAC left it in (instead of
// Open): LCP Opened with the proxied options, Authenticate phase with the
// authentication already exchanged. A server emits EffectLinkUp and, at
// once, EffectAuthRequest with the proxied credentials: AuthResult then
// sends the subscriber PAP Authenticate-Ack/Nak or CHAP Success/Failure
// with the proxied Identifier (the LAC sent no verdict) and enters the
// Network phase. A client waits for that verdict.
//
// It fails, changing nothing, when the link was already opened, the method
// is not PAP or CHAP, or an option list is malformed; the owner should then
// call Open and renegotiate.
func (l *Link) OpenProxy(now time.Time, p Proxy) ([]Effect, error) {
	l.reset()
	if l.flags&flagDone != 0 || l.lcp.state != StateInitial {
		return l.fx, fmt.Errorf("%w: link already opened", ErrProxy)
	}
	if p.Auth.Method != AuthPAP && p.Auth.Method != AuthCHAP {
		return l.fx, fmt.Errorf("%w: authentication method %v", ErrProxy, p.Auth.Method)
	}
	if p.Auth.Method == AuthCHAP && l.cfg.Role == RoleServer && len(p.Auth.Response) != 16 {
		return l.fx, fmt.Errorf("%w: CHAP response of %d bytes", ErrProxy, len(p.Auth.Response))
	}
	for _, opts := range [][]byte{p.LocalOptions, p.PeerOptions} {
		if err := ValidateOptions(opts); err != nil {
			return l.fx, fmt.Errorf("%w: %w", ErrProxy, err)
		}
	}
	t := l.clock(now)
	if l.out == nil {
		l.out, l.fx = make([]byte, 0, 192), make([]Effect, 0, 4)
	}
	// Our side: MRU and magic from the options we (the LAC) asked for.
	l.localMRU, l.localMagic = DefaultMRU, 0
	l.flags |= flagRejMagic // until a Magic-Number option says otherwise
	d := NewOptionDecoder(p.LocalOptions)
	for d.Next() {
		o := d.Option()
		switch {
		case o.Type == lcpMRU && len(o.Data) == 2:
			if m := binary.BigEndian.Uint16(o.Data); m >= minMRU {
				l.localMRU = m
			}
		case o.Type == lcpMagic && len(o.Data) == 4:
			l.localMagic = binary.BigEndian.Uint32(o.Data)
			l.flags &^= flagRejMagic
		}
	}
	// The peer's side, as a Configure-Ack of its request would record it
	// (the LAC checked its option values; lengths are checked here).
	l.peerMRU, l.peerMagic = 1500, 0
	d = NewOptionDecoder(p.PeerOptions)
	for d.Next() {
		o := d.Option()
		switch {
		case o.Type == lcpMRU && len(o.Data) == 2:
			if m := binary.BigEndian.Uint16(o.Data); m >= minMRU {
				l.peerMRU = m
			}
		case o.Type == lcpMagic && len(o.Data) == 4:
			l.peerMagic = binary.BigEndian.Uint32(o.Data)
		}
	}
	l.auth = p.Auth.Method
	l.lcp.setState(StateOpened)
	l.phase = PhaseAuthenticate
	l.emit(Effect{Kind: EffectLinkUp})
	if iv := l.cfg.EchoInterval; iv > 0 {
		l.echoDL = t + int64(iv)
	}
	l.authID = p.Auth.ChapID
	if l.cfg.Role == RoleClient {
		l.authState = authWait
		l.authTries = uint8(l.cfg.maxConfigure())
		l.authDL = t + int64(l.cfg.restart())
		if l.auth == AuthCHAP {
			copy(l.challenge[:], p.Auth.Response) // a client keeps its Response here
		}
		return l.fx, nil
	}
	l.authState = authPending
	a := p.Auth
	a.Challenge = append([]byte(nil), a.Challenge...)
	a.Response = append([]byte(nil), a.Response...)
	l.emit(Effect{Kind: EffectAuthRequest, Auth: &a})
	return l.fx, nil
}
