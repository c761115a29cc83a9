// Package afpacket is a Linux AF_PACKET socket bound to one interface that
// receives PPPoE frames (discovery 0x8863 and session 0x8864), plain or
// 802.1Q / 802.1ad tagged, and sends whole Ethernet frames.
//
// The kernel strips the outermost VLAN tag into skb metadata on receive even
// without the 8021q module. The socket enables PACKET_AUXDATA and re-inserts
// that tag in-band, so callers always see frames as they were on the wire.
// A classic BPF filter (Filter) keeps everything that is not PPPoE, and every
// frame the host itself sends, in the kernel.
//
// Reads are batched with recvmmsg(2) through the Go netpoller; Close unblocks
// a pending read. No cgo.
package afpacket
