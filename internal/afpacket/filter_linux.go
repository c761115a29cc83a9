package afpacket

import "golang.org/x/sys/unix"

// EtherTypes the filter and the tag re-insertion know about.
const (
	EtherTypePPPoEDiscovery = 0x8863 // RFC 2516 §4
	EtherTypePPPoESession   = 0x8864 // RFC 2516 §4
	EtherTypeVLAN           = 0x8100 // IEEE 802.1Q C-tag
	EtherTypeQinQ           = 0x88a8 // IEEE 802.1ad S-tag
	EtherTypeQinQOld        = 0x9100 // pre-standard S-tag still seen in the field
)

// Classic BPF opcodes used by Filter (linux/filter.h).
const (
	bpfLdWAbs  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfLdHAbs  = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
	bpfJeqK    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfRetK    = unix.BPF_RET | unix.BPF_K
	skfAdOff   = 0xfffff000   // SKF_AD_OFF (-0x1000) as the unsigned k field
	skfAdPkttp = skfAdOff + 4 // SKF_AD_PKTTYPE
	snapLen    = 0x40000
)

// Filter returns the classic BPF program attached to every Conn. It accepts
// PPPoE discovery and session frames that are untagged or carry up to two
// in-band tags (0x8100, 0x88a8, 0x9100) in front of the PPPoE EtherType, and
// rejects frames the host sends (PACKET_OUTGOING). The kernel has already
// moved the outermost tag into metadata when the program runs, so a
// single-tagged PPPoE frame looks untagged here and a QinQ frame looks
// single-tagged.
func Filter() []unix.SockFilter {
	const (
		drop   = 15
		accept = 16
	)
	// j builds a conditional jump at index at to absolute targets jt/jf.
	j := func(at int, k uint32, jt, jf int) unix.SockFilter {
		return unix.SockFilter{Code: bpfJeqK, K: k, Jt: uint8(jt - at - 1), Jf: uint8(jf - at - 1)}
	}
	return []unix.SockFilter{
		0:      {Code: bpfLdWAbs, K: skfAdPkttp},
		1:      j(1, unix.PACKET_OUTGOING, drop, 2),
		2:      {Code: bpfLdHAbs, K: 12},
		3:      j(3, EtherTypePPPoEDiscovery, accept, 4),
		4:      j(4, EtherTypePPPoESession, accept, 5),
		5:      j(5, EtherTypeVLAN, 8, 6),
		6:      j(6, EtherTypeQinQ, 8, 7),
		7:      j(7, EtherTypeQinQOld, 8, drop),
		8:      {Code: bpfLdHAbs, K: 16},
		9:      j(9, EtherTypePPPoEDiscovery, accept, 10),
		10:     j(10, EtherTypePPPoESession, accept, 11),
		11:     j(11, EtherTypeVLAN, 12, drop),
		12:     {Code: bpfLdHAbs, K: 20},
		13:     j(13, EtherTypePPPoEDiscovery, accept, 14),
		14:     j(14, EtherTypePPPoESession, accept, drop),
		drop:   {Code: bpfRetK, K: 0},
		accept: {Code: bpfRetK, K: snapLen},
	}
}
