//go:build !linux

package l2tp

import "net"

// listenUDP binds the node's socket; ReuseAddr is Linux-only (it serves the
// kernel dataplane).
func listenUDP(addr *net.UDPAddr, _ bool) (*net.UDPConn, error) {
	return net.ListenUDP("udp", addr)
}
