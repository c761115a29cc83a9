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

// Filter returns the classic BPF program attached to every Conn that
// Listen opens. It accepts PPPoE discovery and session frames that are
// untagged or carry up to two in-band tags (0x8100, 0x88a8, 0x9100) in front
// of the PPPoE EtherType, and rejects frames the host sends
// (PACKET_OUTGOING). The kernel has already moved the outermost tag into
// metadata when the program runs, so a single-tagged PPPoE frame looks
// untagged here and a QinQ frame looks single-tagged.
func Filter() []unix.SockFilter {
	return filter(EtherTypePPPoEDiscovery, EtherTypePPPoESession)
}

// DiscoveryFilter is Filter for discovery frames only (ListenDiscovery):
// for a port whose session frames belong to the kernel's pppoe driver. An
// ETH_P_ALL socket gets a copy of every frame the filter accepts, so a
// session-frame filter there would copy all subscriber traffic to userspace
// only to be dropped.
func DiscoveryFilter() []unix.SockFilter {
	return filter(EtherTypePPPoEDiscovery)
}

// filter builds the program: the outgoing check, then, at offsets 12, 16
// and 20, "one of types: accept", and a tag EtherType: look 4 bytes
// further (0x8100 only at 16, the inner tag of QinQ), else drop.
func filter(types ...uint32) []unix.SockFilter {
	const drop, accept = -1, -2 // symbolic targets, resolved below
	type insn struct {
		code   uint16
		k      uint32
		jt, jf int // absolute targets (or drop/accept) for jumps
	}
	var p []insn
	ld := func(k uint32) { p = append(p, insn{code: bpfLdHAbs, k: k}) }
	jeq := func(k uint32, jt, jf int) { p = append(p, insn{code: bpfJeqK, k: k, jt: jt, jf: jf}) }
	p = append(p, insn{code: bpfLdWAbs, k: skfAdPkttp})
	jeq(unix.PACKET_OUTGOING, drop, len(p)+1)
	n := len(types)
	outer := len(p)            // ldh 12
	inner := outer + 1 + n + 3 // ldh 16
	third := inner + 1 + n + 1 // ldh 20
	ld(12)
	for _, t := range types {
		jeq(t, accept, len(p)+1)
	}
	jeq(EtherTypeVLAN, inner, len(p)+1)
	jeq(EtherTypeQinQ, inner, len(p)+1)
	jeq(EtherTypeQinQOld, inner, drop)
	ld(16)
	for _, t := range types {
		jeq(t, accept, len(p)+1)
	}
	jeq(EtherTypeVLAN, third, drop)
	ld(20)
	for i, t := range types {
		next := len(p) + 1
		if i == n-1 {
			next = drop
		}
		jeq(t, accept, next)
	}
	dropAt, acceptAt := len(p), len(p)+1
	out := make([]unix.SockFilter, 0, len(p)+2)
	for i, in := range p {
		f := unix.SockFilter{Code: in.code, K: in.k}
		if in.code == bpfJeqK {
			rel := func(to int) uint8 {
				switch to {
				case drop:
					to = dropAt
				case accept:
					to = acceptAt
				}
				return uint8(to - i - 1)
			}
			f.Jt, f.Jf = rel(in.jt), rel(in.jf)
		}
		out = append(out, f)
	}
	return append(out, unix.SockFilter{Code: bpfRetK, K: 0}, unix.SockFilter{Code: bpfRetK, K: snapLen})
}
