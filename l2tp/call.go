package l2tp

import (
	"encoding/binary"
)

// Proxy Authen Type values (RFC 2661 §4.4.5).
const (
	ProxyAuthenText   uint16 = 1 // textual username/password exchange
	ProxyAuthenCHAP   uint16 = 2
	ProxyAuthenPAP    uint16 = 3
	ProxyAuthenNone   uint16 = 4
	ProxyAuthenMSCHAP uint16 = 5
)

// Bearer and framing bits (RFC 2661 §4.4.3, §4.4.4).
const (
	FramingSync   uint32 = 1
	FramingAsync  uint32 = 2
	BearerDigital uint32 = 1
	BearerAnalog  uint32 = 2
)

// ProxyInfo is what a LAC tells the LNS about the PPP negotiation it already
// did with the subscriber (RFC 2661 §4.4.5). The LNS may accept it (send
// the credentials to AAA, start LCP in the Opened state) or renegotiate:
// that policy belongs to the session layer.
type ProxyInfo struct {
	InitialReceivedConfReq []byte // LCP options of the first CONFREQ from the subscriber
	LastSentConfReq        []byte
	LastReceivedConfReq    []byte
	AuthenType             uint16 // ProxyAuthen*; 0 when absent
	AuthenName             string
	AuthenChallenge        []byte
	AuthenID               uint16
	AuthenResponse         []byte // PAP password or CHAP response
}

// CallInfo describes one incoming call (session). Byte slices are copies
// the receiver may keep.
type CallInfo struct {
	TunnelID, SessionID         uint16 // ours
	PeerTunnelID, PeerSessionID uint16 // the peer's
	PeerHostName                string
	SerialNumber                uint32
	BearerType, FramingType     uint32
	TxConnectSpeed              uint32 // bps
	RxConnectSpeed              uint32 // bps; 0 when absent
	MinBPS, MaxBPS              uint32
	CalledNumber, CallingNumber string
	SubAddress                  string
	PhysicalChannelID           uint32
	PrivateGroupID              string
	// SequencingRequired is set when the ICCN carried Sequencing Required
	// (RFC 2661 §4.4.4): data messages must then carry Ns/Nr.
	SequencingRequired bool
	// Proxy is nil when the LAC sent no proxy LCP/authentication AVPs.
	Proxy *ProxyInfo
}

// CallParams is what a LAC puts in ICRQ and ICCN.
type CallParams struct {
	SerialNumber       uint32
	BearerType         uint32
	FramingType        uint32 // FramingSync when 0
	TxConnectSpeed     uint32 // 10 Mbit/s when 0
	CalledNumber       string
	CallingNumber      string
	SequencingRequired bool
	Proxy              *ProxyInfo
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// fillICRQ copies ICRQ fields into ci (RFC 2661 §6.10).
func (ci *CallInfo) fillICRQ(m *Message) {
	ci.SerialNumber, _ = m.Uint32(AVPCallSerialNumber)
	ci.BearerType, _ = m.Uint32(AVPBearerType)
	ci.PhysicalChannelID, _ = m.Uint32(AVPPhysicalChannelID)
	ci.CalledNumber = m.String(AVPCalledNumber)
	ci.CallingNumber = m.String(AVPCallingNumber)
	ci.SubAddress = m.String(AVPSubAddress)
}

// fillICCN copies ICCN fields into ci (RFC 2661 §6.12).
func (ci *CallInfo) fillICCN(m *Message) {
	ci.TxConnectSpeed, _ = m.Uint32(AVPTxConnectSpeed)
	ci.RxConnectSpeed, _ = m.Uint32(AVPRxConnectSpeed)
	ci.FramingType, _ = m.Uint32(AVPFramingType)
	ci.PrivateGroupID = m.String(AVPPrivateGroupID)
	ci.SequencingRequired = m.Get(AVPSequencingRequired) != nil
	var p ProxyInfo
	found := false
	get := func(t AVPType) []byte {
		v, ok := m.Bytes(t)
		found = found || ok
		return clone(v)
	}
	p.InitialReceivedConfReq = get(AVPInitialReceivedLCPConfReq)
	p.LastSentConfReq = get(AVPLastSentLCPConfReq)
	p.LastReceivedConfReq = get(AVPLastReceivedLCPConfReq)
	p.AuthenName = string(get(AVPProxyAuthenName))
	p.AuthenChallenge = get(AVPProxyAuthenChallenge)
	p.AuthenResponse = get(AVPProxyAuthenResponse)
	if v := get(AVPProxyAuthenType); len(v) == 2 {
		p.AuthenType = binary.BigEndian.Uint16(v)
	}
	if v := get(AVPProxyAuthenID); len(v) == 2 {
		p.AuthenID = binary.BigEndian.Uint16(v)
	}
	if found {
		ci.Proxy = &p
	}
}

// addProxy adds the proxy AVPs of p to an ICCN; the authentication
// response is hidden when the message is encoded with a Hider.
func addProxy(m *Message, p *ProxyInfo) {
	if p == nil {
		return
	}
	if p.InitialReceivedConfReq != nil {
		m.Add(AVPInitialReceivedLCPConfReq, p.InitialReceivedConfReq)
	}
	if p.LastSentConfReq != nil {
		m.Add(AVPLastSentLCPConfReq, p.LastSentConfReq)
	}
	if p.LastReceivedConfReq != nil {
		m.Add(AVPLastReceivedLCPConfReq, p.LastReceivedConfReq)
	}
	if p.AuthenType != 0 {
		m.AddUint16(AVPProxyAuthenType, p.AuthenType)
		m.Add(AVPProxyAuthenName, []byte(p.AuthenName))
		if p.AuthenChallenge != nil {
			m.Add(AVPProxyAuthenChallenge, p.AuthenChallenge)
		}
		m.AddUint16(AVPProxyAuthenID, p.AuthenID)
		m.AddHidden(AVPProxyAuthenResponse, p.AuthenResponse)
	}
}
