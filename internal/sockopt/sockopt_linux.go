// Package sockopt holds socket options shared by bngbox's listeners and
// dialers.
package sockopt

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ReuseAddr is a net.ListenConfig / net.Dialer Control function that sets
// SO_REUSEADDR before bind: the L2TP LNS's listening socket and the kernel
// dataplane's per-tunnel sockets share the LNS port.
func ReuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}
