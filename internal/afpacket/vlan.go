package afpacket

import "encoding/binary"

// Headroom is the space Conn leaves in front of every received frame so that
// a stripped VLAN tag can be re-inserted without copying the payload.
const Headroom = 4

// insertTag re-inserts a VLAN tag that the kernel stripped into metadata.
// buf holds the frame as received at buf[Headroom:Headroom+n]; the result is
// the frame with the tag in-band after the two MAC addresses, aliasing buf.
// Frames shorter than the two MAC addresses are returned unchanged.
func insertTag(buf []byte, n int, tpid, tci uint16) []byte {
	f := buf[Headroom : Headroom+n]
	if n < 12 {
		return f
	}
	copy(buf[0:12], f[0:12])
	binary.BigEndian.PutUint16(buf[12:14], tpid)
	binary.BigEndian.PutUint16(buf[14:16], tci)
	return buf[:Headroom+n]
}
