// Package kernel is the kernel dataplane: PPPoE and L2TP sessions terminated
// by the Linux pppoe, l2tp_ppp and ppp_generic drivers, forwarded by the
// kernel as pppN interfaces. No cgo.
//
// Per access port, discovery frames (EtherType 0x8863) are read from an
// AF_PACKET socket (internal/afpacket, ListenDiscovery: its filter takes
// nothing else) and handed to bngbox's discovery layer; session frames
// (0x8864) belong to the kernel, which demultiplexes them by (peer MAC,
// session ID) to the connected PPPoE socket.
//
// Per session:
//
//	NewPPPoESession: socket(AF_PPPOX, PX_PROTO_OE) connected to {sid, peer MAC, port}
//	                 PPPIOCGCHAN → open /dev/ppp, PPPIOCATTCHAN → channel fd
//	                 (LCP, PAP/CHAP and NCP frames are read and written here)
//	Up:              open /dev/ppp, PPPIOCNEWUNIT → pppN; channel PPPIOCCONNECT
//	                 (control frames now arrive on the unit fd); PPPIOCSMRU;
//	                 rtnetlink: MTU, address local peer PEER/32 (the host route),
//	                 after IPv6CP fe80::LOCAL peer fe80::PEER/64, up
//	Stats:           rtnetlink IFLA_STATS64 of pppN (64-bit kernel counters)
//	Close:           close the unit fd (pppN goes), the channel fd, the socket
//
// L2TP sessions (NewL2TPSession) use the kernel's l2tp_ppp: per tunnel a UDP
// socket bound to the LNS's address and connected to the LAC, registered
// with L2TP_CMD_TUNNEL_CREATE (generic netlink family "l2tp"); per session
// L2TP_CMD_SESSION_CREATE (pseudowire PPP), a PX_PROTO_OL2TP socket connected
// to it and a /dev/ppp channel, then the same pppN as PPPoE. What the kernel
// passes up on the tunnel socket goes back to the LNS (L2TPParams.Input).
//
// A VLAN-tagged subscriber's PPPoE socket is bound to a VLAN device for its
// tag stack (eth0.100, or eth0.10 + eth0.10.20 for QinQ), created with the
// first session on those tags and deleted with the last (vlan_linux.go).
//
// Not supported: L2TP over IPv6, TPID 0x9100.
package kernel
