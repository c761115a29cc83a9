// Package tun is the userspace dataplane backend: PPPoE is terminated in
// this process and each session's IP traffic goes through its own TUN
// device (ppp<N>), so it works on kernels without ppp, pppoe or l2tp.
//
// One AF_PACKET socket per access port (internal/afpacket) receives PPPoE
// discovery and session frames with VLAN tags in-band. The port's reader
// goroutine passes discovery frames to the DiscoveryFunc and demultiplexes
// session frames by (peer MAC, VLAN IDs, session ID): IPv4 (0x0021) and
// IPv6 (0x0057) go to the session's TUN device, every other PPP protocol to
// its Control callback. A few pollers (one goroutine per CPU, epoll over
// every session's TUN device) read what the kernel routes into the devices
// and send it, encapsulated (Ethernet, tags, PPPoE, PPP), to the port.
//
// Up creates the device with two netlink requests for IPv4 (RTM_NEWLINK for
// MTU, group and IFF_UP; RTM_NEWADDR local peer remote/32, which also makes
// the kernel route to the peer) and one more for the IPv6 link-local
// address. TUN devices are not persistent: closing the session, or the
// process dying, deletes them. They carry the link group Options.Group, and
// New deletes marked ppp* TUN devices it finds.
//
// Not supported: multilink PPP, more than two VLAN tags, batched TUN I/O
// (one read/write per packet).
package tun
