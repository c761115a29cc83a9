package ppp

import (
	"crypto/md5"
	"time"
)

// PAP codes (RFC 1334 §2.2) and CHAP codes (RFC 1994 §4).
const (
	papRequest    uint8 = 1
	papAck        uint8 = 2
	papNak        uint8 = 3
	chapChallenge uint8 = 1
	chapResponse  uint8 = 2
	chapSuccess   uint8 = 3
	chapFailure   uint8 = 4
)

// startAuth begins the Authenticate phase (RFC 1661 §3.5) once LCP opened.
func (l *Link) startAuth(now int64) {
	if l.cfg.Role == RoleClient {
		switch l.auth {
		case AuthPAP:
			l.authID++
			l.authTries = uint8(l.cfg.maxConfigure())
			l.sendPAPRequest(now)
		case AuthCHAP:
			l.authState = authWait
			l.authTries = 0 // armed by the first Response
			l.authDL = now + int64(l.cfg.authTimeout())
		default:
			l.network(now)
		}
		return
	}
	switch l.auth {
	case AuthPAP:
		l.authState = authWait
		l.authDL = now + int64(l.cfg.authTimeout())
	case AuthCHAP:
		l.authState = authWait
		l.authID++
		l.randBytes(l.challenge[:])
		l.authTries = uint8(l.cfg.maxConfigure())
		l.sendChallenge(now)
	default:
		l.authState = authPending
		l.emit(Effect{Kind: EffectAuthRequest, Auth: &AuthRequest{Method: AuthNone}})
	}
}

func (l *Link) sendPAPRequest(now int64) {
	l.authState = authWait
	start := l.begin(papRequest, l.authID)
	l.out = AppendPAPRequest(l.out, l.cfg.Username, l.cfg.Password)
	l.end(ProtoPAP, start)
	l.authTries--
	l.authDL = now + int64(l.cfg.restart())
}

func (l *Link) sendChallenge(now int64) {
	start := l.begin(chapChallenge, l.authID)
	l.out = AppendCHAP(l.out, l.challenge[:], l.cfg.chapName())
	l.end(ProtoCHAP, start)
	l.authTries--
	l.authDL = now + int64(l.cfg.restart())
}

// authTimeout retransmits (client PAP request, server CHAP challenge) or
// gives up.
func (l *Link) authTimeout(now int64) {
	l.authDL = 0
	if l.authState != authWait {
		return
	}
	if l.authTries > 0 {
		client := l.cfg.Role == RoleClient
		switch {
		case client && l.auth == AuthPAP:
			l.sendPAPRequest(now)
			return
		case client && l.auth == AuthCHAP:
			// The verdict may have been lost: the server repeats it for a
			// retransmitted Response (RFC 1994 §4.2).
			l.sendResponse(now, true)
			return
		case !client && l.auth == AuthCHAP:
			l.sendChallenge(now)
			return
		}
	}
	l.authState = authFailed
	l.fail(now, ReasonAuthFailed, "authentication timeout")
}

func (l *Link) inputPAP(now int64, pkt []byte) {
	p, _, err := Parse(pkt)
	if err != nil {
		l.stats.Malformed++
		return
	}
	if l.auth != AuthPAP {
		l.stats.Discarded++
		return
	}
	if l.cfg.Role == RoleClient {
		l.clientVerdict(now, p, papAck, papNak, true)
		return
	}
	if p.Code != papRequest {
		l.stats.Discarded++
		return
	}
	user, pass, err := ParsePAPRequest(p.Data)
	if err != nil {
		l.stats.Malformed++
		return
	}
	switch l.authState {
	case authWait:
		if l.phase != PhaseAuthenticate {
			l.stats.Discarded++
			return
		}
		l.authID = p.ID
		l.authState = authPending
		l.authDL = 0
		l.emit(Effect{Kind: EffectAuthRequest, Auth: &AuthRequest{
			Method: AuthPAP, User: string(user), Password: string(pass),
		}})
	case authOK, authFailed:
		// RFC 1334 §2.2.1: the Ack/Nak was lost; answer again.
		l.sendVerdict(p.ID)
	default:
		l.stats.Discarded++ // pending: the owner is deciding
	}
}

func (l *Link) inputCHAP(now int64, pkt []byte) {
	p, _, err := Parse(pkt)
	if err != nil {
		l.stats.Malformed++
		return
	}
	if l.auth != AuthCHAP {
		l.stats.Discarded++
		return
	}
	if l.cfg.Role == RoleClient {
		if p.Code == chapChallenge {
			l.chapRespond(now, p)
			return
		}
		l.clientVerdict(now, p, chapSuccess, chapFailure, false)
		return
	}
	if p.Code != chapResponse {
		l.stats.Discarded++
		return
	}
	value, name, err := ParseCHAP(p.Data)
	if err != nil || len(value) != md5.Size {
		l.stats.Malformed++
		return
	}
	if p.ID != l.authID { // RFC 1994 §4.1: must match the Challenge
		l.stats.Discarded++
		return
	}
	switch l.authState {
	case authWait:
		if l.phase != PhaseAuthenticate {
			l.stats.Discarded++
			return
		}
		l.authState = authPending
		l.authDL = 0
		l.emit(Effect{Kind: EffectAuthRequest, Auth: &AuthRequest{
			Method: AuthCHAP, User: string(name), ChapID: p.ID,
			Challenge: append([]byte(nil), l.challenge[:]...),
			Response:  append([]byte(nil), value...),
		}})
	case authOK, authFailed:
		// RFC 1994 §4.2: a retransmitted Response gets the same verdict.
		l.sendVerdict(p.ID)
	default:
		l.stats.Discarded++
	}
}

// sendVerdict sends PAP Ack/Nak or CHAP Success/Failure carrying the
// message.
func (l *Link) sendVerdict(id uint8) {
	ok := l.authState == authOK
	if l.auth == AuthPAP {
		start := l.begin(pick8(ok, papAck, papNak), id)
		l.out = AppendPAPMessage(l.out, l.message)
		l.end(ProtoPAP, start)
		return
	}
	start := l.begin(pick8(ok, chapSuccess, chapFailure), id)
	l.out = append(l.out, l.clip([]byte(l.message), 0)...)
	l.end(ProtoCHAP, start)
}

func pick8(ok bool, a, b uint8) uint8 {
	if ok {
		return a
	}
	return b
}

// AuthResult gives the owner's verdict on the last EffectAuthRequest
// (server role). On success, message goes in PAP Authenticate-Ack or CHAP
// Success, net configures IPCP/IPv6CP, and the network phase begins. On
// failure, message goes in Authenticate-Nak / Failure and LCP terminates;
// EffectDown (ReasonAuthFailed, message) follows. A result with no request
// pending is ignored.
func (l *Link) AuthResult(now time.Time, ok bool, message string, net NetParams) []Effect {
	l.reset()
	if l.flags&flagDone != 0 || l.authState != authPending || l.cfg.Role != RoleServer {
		return l.fx
	}
	t := l.clock(now)
	l.message = message
	if !ok {
		l.authState = authFailed
		if l.auth != AuthNone {
			l.sendVerdict(l.authID)
		}
		l.fail(t, ReasonAuthFailed, message)
		return l.fx
	}
	l.authState = authOK
	if l.auth != AuthNone {
		l.sendVerdict(l.authID)
	}
	l.localIP = from4(l.cfg.LocalIP)
	l.peerIP = from4(net.PeerIP)
	l.dns[0], l.dns[1] = from4(net.DNS[0]), from4(net.DNS[1])
	l.fixedIID = net.PeerIfaceID
	l.flags &^= flagIPCP | flagIPv6CP
	if !l.cfg.NoIPv4 && l.peerIP != ([4]byte{}) {
		l.flags |= flagIPCP
	}
	if l.cfg.IPv6 && !net.NoIPv6 {
		l.flags |= flagIPv6CP
	}
	l.network(t)
	return l.fx
}

// chapRespond answers a Challenge (client; RFC 1994 §4.1): MD5 over
// Identifier, secret and challenge value.
func (l *Link) chapRespond(now int64, p Packet) {
	value, _, err := ParseCHAP(p.Data)
	if err != nil {
		l.stats.Malformed++
		return
	}
	if l.authState == authFailed {
		l.stats.Discarded++
		return
	}
	h := md5.New()
	h.Write([]byte{p.ID})
	h.Write([]byte(l.cfg.Password))
	h.Write(value)
	h.Sum(l.challenge[:0]) // a client keeps its Response here
	l.authID = p.ID
	if l.authState == authOK { // a re-challenge (RFC 1994 §2.2) keeps the verdict
		l.sendResponse(now, false)
		return
	}
	l.authState = authWait
	l.authTries = uint8(l.cfg.maxConfigure())
	l.sendResponse(now, true)
}

// sendResponse sends the client's CHAP Response, arming the retransmit
// timer when arm is set.
func (l *Link) sendResponse(now int64, arm bool) {
	start := l.begin(chapResponse, l.authID)
	l.out = AppendCHAP(l.out, l.challenge[:], l.cfg.Username)
	l.end(ProtoCHAP, start)
	if arm {
		l.authTries--
		l.authDL = now + int64(l.cfg.restart())
	}
}

// clientVerdict handles PAP Ack/Nak or CHAP Success/Failure (client).
func (l *Link) clientVerdict(now int64, p Packet, okCode, failCode uint8, pap bool) {
	if p.Code != okCode && p.Code != failCode {
		l.stats.Discarded++
		return
	}
	if l.authState != authWait || p.ID != l.authID || l.phase != PhaseAuthenticate {
		l.stats.Discarded++
		return
	}
	msg := p.Data
	if pap {
		m, err := ParsePAPMessage(p.Data)
		if err != nil {
			l.stats.Malformed++
			return
		}
		msg = m
	}
	l.authDL = 0
	if p.Code == failCode {
		l.authState = authFailed
		l.fail(now, ReasonAuthFailed, string(msg))
		return
	}
	l.authState = authOK
	l.message = string(msg)
	l.emit(Effect{Kind: EffectAuthenticated, Message: l.message})
	l.network(now)
}

// network enters the Network phase and starts the enabled NCPs.
func (l *Link) network(now int64) {
	l.phase = PhaseNetwork
	if l.cfg.Role == RoleClient {
		l.flags &^= flagIPCP | flagIPv6CP
		if !l.cfg.NoIPv4 {
			l.flags |= flagIPCP
		}
		if l.cfg.IPv6 {
			l.flags |= flagIPv6CP
		}
	}
	if l.flags&(flagIPCP|flagIPv6CP) == 0 {
		l.fail(now, ReasonNegotiation, "no network protocol enabled")
		return
	}
	if l.flags&flagIPCP != 0 {
		h := ipcpHandler{l}
		l.ipcp.open(l, h, now)
		l.ipcp.up(l, h, now)
	}
	if l.flags&flagIPv6CP != 0 {
		if l.localIID == 0 {
			l.localIID = l.cfg.LocalIfaceID
			if l.localIID == 0 {
				l.localIID = l.randIID(0, l.fixedIID)
			}
		}
		h := ipv6cpHandler{l}
		l.ipv6cp.open(l, h, now)
		l.ipv6cp.up(l, h, now)
	}
}
