package pppoe

import (
	"errors"
	"fmt"
	"net"

	"github.com/bngbox/bngbox/internal/ether"
)

// ErrEtherType is returned (wrapped) by ParseFrame for frames that are not
// PPPoE discovery frames.
var ErrEtherType = errors.New("pppoe: not a discovery frame")

// AppendFrame appends a whole discovery frame (Ethernet header with eh's
// addresses and tags, EtherType 0x8863, then p) to b, zero-padded to the
// minimum Ethernet frame. It is what a client (pkg/loadgen) sends:
//
//	var eh ether.Header
//	eh.Dst, eh.Src = pppoe.Broadcast, myMAC
//	_ = eh.SetVLANs([]uint16{100, 200})
//	p := pppoe.Packet{Code: pppoe.CodePADI}
//	p.Add(pppoe.TagServiceName, nil)
//	p.Add(pppoe.TagHostUniq, hostUniq)
//	frame := pppoe.AppendFrame(nil, eh, &p)
func AppendFrame(b []byte, eh ether.Header, p *Packet) []byte {
	start := len(b)
	eh.EtherType = ether.TypePPPoEDiscover
	b = ether.AppendHeader(b, eh)
	return pad(p.Append(b), start)
}

// ParseFrame decodes a whole discovery frame. Values alias frame. It does
// not call Validate.
func ParseFrame(frame []byte) (ether.Header, Packet, error) {
	eh, off, err := ether.Parse(frame)
	if err != nil {
		return ether.Header{}, Packet{}, err
	}
	if eh.EtherType != ether.TypePPPoEDiscover {
		return ether.Header{}, Packet{}, fmt.Errorf("%w: EtherType %#04x", ErrEtherType, eh.EtherType)
	}
	p, _, err := Parse(frame[off:])
	if err != nil {
		return ether.Header{}, Packet{}, err
	}
	return eh, p, nil
}

// Broadcast is the destination of a PADI (RFC 2516 §5.1). Do not modify it.
var Broadcast = broadcastMAC()

func broadcastMAC() net.HardwareAddr { return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }
