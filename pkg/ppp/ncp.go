package ppp

import (
	"encoding/binary"
	"net/netip"
)

// IPCP options (RFC 1332 §3, RFC 1877 §1) and IPv6CP options (RFC 5072 §4).
const (
	ipcpAddresses   uint8 = 1 // deprecated, rejected
	ipcpCompression uint8 = 2 // rejected
	ipcpAddress     uint8 = 3
	ipcpDNS1        uint8 = 129
	ipcpNBNS1       uint8 = 130 // rejected
	ipcpDNS2        uint8 = 131
	ipcpNBNS2       uint8 = 132 // rejected
	ipv6cpIfaceID   uint8 = 1
)

// ipcpHandler is IPCP's option policy.
type ipcpHandler struct{ l *Link }

func (h ipcpHandler) appendRequest(b []byte) []byte {
	l := h.l
	if l.flags&flagRejAddr == 0 {
		b = append(b, ipcpAddress, 6)
		b = append(b, l.localIP[:]...)
	}
	if l.cfg.Role == RoleClient && !l.cfg.NoDNS {
		if l.flags&flagRejDNS1 == 0 {
			b = append(b, ipcpDNS1, 6)
			b = append(b, l.dns[0][:]...)
		}
		if l.flags&flagRejDNS2 == 0 {
			b = append(b, ipcpDNS2, 6)
			b = append(b, l.dns[1][:]...)
		}
	}
	return b
}

func appendAddrOption(b []byte, t uint8, a [4]byte) []byte {
	b = append(b, t, 6)
	return append(b, a[:]...)
}

func (h ipcpHandler) checkRequest(opts []byte, emit uint8, nakOK bool) uint8 {
	l := h.l
	server := l.cfg.Role == RoleServer
	code := CodeConfigureAck
	sawAddr := false
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		v := CodeConfigureReject
		var want [4]byte
		switch {
		case len(o.Data) != 4:
		case o.Type == ipcpAddress:
			sawAddr = true
			got := [4]byte(o.Data)
			switch {
			case server && got != l.peerIP: // RFC 1332 §3.3: Nak with the address we assign
				v, want = nakOr(nakOK), l.peerIP
			case !server && got == [4]byte{}: // the server has no address to offer us
			default:
				v = CodeConfigureAck
			}
		case server && (o.Type == ipcpDNS1 || o.Type == ipcpDNS2):
			// RFC 1877 §1.1: Nak with our servers, Reject when we have none.
			i := 0
			if o.Type == ipcpDNS2 {
				i = 1
			}
			switch {
			case l.dns[i] == [4]byte{}:
			case [4]byte(o.Data) != l.dns[i]:
				v, want = nakOr(nakOK), l.dns[i]
			default:
				v = CodeConfigureAck
			}
		}
		code = verdict(code, v)
		if emit != 0 && v == emit {
			if emit == CodeConfigureNak {
				l.out = appendAddrOption(l.out, o.Type, want)
			} else {
				l.out = o.Append(l.out)
			}
		}
	}
	// RFC 1332 §3.3: a peer that asks for no address can be told one.
	if server && !sawAddr && nakOK && code != CodeConfigureReject {
		code = CodeConfigureNak
		if emit == CodeConfigureNak {
			l.out = appendAddrOption(l.out, ipcpAddress, l.peerIP)
		}
	}
	if emit == 0 && code == CodeConfigureAck && !server {
		d := NewOptionDecoder(opts)
		for d.Next() {
			if o := d.Option(); o.Type == ipcpAddress {
				l.peerIP = [4]byte(o.Data)
			}
		}
	}
	return code
}

func (h ipcpHandler) gotNak(opts []byte) {
	l := h.l
	if l.cfg.Role == RoleServer {
		return // our own address is not negotiable
	}
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		if len(o.Data) != 4 {
			continue
		}
		switch o.Type {
		case ipcpAddress:
			l.localIP = [4]byte(o.Data)
		case ipcpDNS1:
			l.dns[0] = [4]byte(o.Data)
		case ipcpDNS2:
			l.dns[1] = [4]byte(o.Data)
		}
	}
}

func (h ipcpHandler) gotReject(now int64, opts []byte) {
	l := h.l
	d := NewOptionDecoder(opts)
	for d.Next() {
		switch d.Option().Type {
		case ipcpAddress:
			l.flags |= flagRejAddr
		case ipcpDNS1:
			l.flags |= flagRejDNS1
			l.dns[0] = [4]byte{}
		case ipcpDNS2:
			l.flags |= flagRejDNS2
			l.dns[1] = [4]byte{}
		}
	}
}

func (h ipcpHandler) tlu(int64) {
	l := h.l
	l.emit(Effect{Kind: EffectUp, Proto: ProtoIPCP, Net: &NetUp{
		Proto: ProtoIPCP, LocalIP: addr4(l.localIP), PeerIP: addr4(l.peerIP),
		DNS: [2]netip.Addr{addr4(l.dns[0]), addr4(l.dns[1])},
	}})
}

func (h ipcpHandler) tld(int64)       { h.l.emit(Effect{Kind: EffectNetDown, Proto: ProtoIPCP}) }
func (h ipcpHandler) tls(int64)       {}
func (h ipcpHandler) tlf(now int64)   { h.l.ncpFinished(now) }
func (h ipv6cpHandler) tls(int64)     {}
func (h ipv6cpHandler) tlf(now int64) { h.l.ncpFinished(now) }

// ncpFinished closes the link when no network protocol is left.
func (l *Link) ncpFinished(now int64) {
	if l.phase != PhaseNetwork {
		return
	}
	for _, s := range [...]State{l.ipcp.state, l.ipv6cp.state} {
		if s >= StateClosing { // still negotiating or open
			return
		}
	}
	l.fail(now, ReasonNegotiation, "no network protocol")
}

// ipv6cpHandler is IPv6CP's option policy.
type ipv6cpHandler struct{ l *Link }

func (h ipv6cpHandler) appendRequest(b []byte) []byte {
	l := h.l
	if l.flags&flagRejIID != 0 {
		return b
	}
	b = append(b, ipv6cpIfaceID, 10)
	return binary.BigEndian.AppendUint64(b, l.localIID)
}

func (h ipv6cpHandler) checkRequest(opts []byte, emit uint8, nakOK bool) uint8 {
	l := h.l
	code := CodeConfigureAck
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		v := CodeConfigureReject
		if o.Type == ipv6cpIfaceID && len(o.Data) == 8 {
			id := binary.BigEndian.Uint64(o.Data)
			// RFC 5072 §4.1: Nak zero or our own identifier with a fresh
			// one; a server may impose the identifier it was given.
			if id == 0 || id == l.localIID || l.fixedIID != 0 && id != l.fixedIID {
				v = nakOr(nakOK)
				if emit == CodeConfigureNak && v == emit {
					sug := l.fixedIID
					if sug == 0 || sug == l.localIID {
						sug = l.randIID(l.localIID, id)
					}
					l.out = append(l.out, ipv6cpIfaceID, 10)
					l.out = binary.BigEndian.AppendUint64(l.out, sug)
				}
			} else {
				v = CodeConfigureAck
			}
		}
		code = verdict(code, v)
		if emit == CodeConfigureReject && v == emit {
			l.out = o.Append(l.out)
		}
	}
	if emit == 0 && code == CodeConfigureAck {
		d := NewOptionDecoder(opts)
		for d.Next() {
			if o := d.Option(); o.Type == ipv6cpIfaceID {
				l.peerIID = binary.BigEndian.Uint64(o.Data)
			}
		}
	}
	return code
}

func (h ipv6cpHandler) gotNak(opts []byte) {
	l := h.l
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		if o.Type != ipv6cpIfaceID || len(o.Data) != 8 {
			continue
		}
		// RFC 5072 §4.1: take the suggestion unless it collides.
		if id := binary.BigEndian.Uint64(o.Data); id != 0 && id != l.peerIID {
			l.localIID = id
		} else {
			l.localIID = l.randIID(l.peerIID, l.localIID)
		}
	}
}

func (h ipv6cpHandler) gotReject(now int64, opts []byte) {
	d := NewOptionDecoder(opts)
	for d.Next() {
		if d.Option().Type == ipv6cpIfaceID {
			h.l.flags |= flagRejIID
		}
	}
}

func (h ipv6cpHandler) tlu(int64) {
	l := h.l
	l.emit(Effect{Kind: EffectUp, Proto: ProtoIPv6CP, Net: &NetUp{
		Proto: ProtoIPv6CP, LocalIfaceID: l.localIID, PeerIfaceID: l.peerIID,
	}})
}

func (h ipv6cpHandler) tld(int64) { h.l.emit(Effect{Kind: EffectNetDown, Proto: ProtoIPv6CP}) }
