package l2tp

import (
	"context"
	"net"

	"github.com/bngbox/bngbox/internal/sockopt"
)

// listenUDP binds the node's socket, with SO_REUSEADDR when reuse is set.
func listenUDP(addr *net.UDPAddr, reuse bool) (*net.UDPConn, error) {
	if !reuse {
		return net.ListenUDP("udp", addr)
	}
	lc := net.ListenConfig{Control: sockopt.ReuseAddr}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
