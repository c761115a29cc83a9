package shaper

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The classifier on each shared IFB: a cls_bpf program (not direct-action)
// whose return value is the classid. A packet redirected from a session
// interface's ingress still carries that interface's index in
// skb->skb_iif (the IFB only rewrites it after its qdisc), so one program
// and no per-session filter map every session to its own class:
//
//	r0 = ((struct __sk_buff *)r1)->ingress_ifindex
//	r0 %= 0xfff0
//	r0 += 1
//	r0 |= 0x10000        // classid 1:(ifindex % 0xfff0 + 1), see classMinor
//	exit
//
// cls_bpf: 0 = no match, -1 = the filter's classid, else the classid.

// classifierName is the program's name in `tc filter show` and bpftool.
const classifierName = "bngbox_class"

// skbIngressIfindex is offsetof(struct __sk_buff, ingress_ifindex)
// (include/uapi/linux/bpf.h: len, pkt_type, mark, queue_mapping, protocol,
// vlan_present, vlan_tci, vlan_proto, priority, ingress_ifindex).
const skbIngressIfindex = 9 * 4

// bpfInsn is struct bpf_insn; regs is dst in the low nibble, src in the
// high one (little-endian bitfield layout, which every target of ours is).
type bpfInsn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const (
	bpfLdxMemW  = 0x61 // BPF_LDX | BPF_MEM | BPF_W
	bpfAlu64Mod = 0x97 // BPF_ALU64 | BPF_MOD | BPF_K
	bpfAlu64Add = 0x07 // BPF_ALU64 | BPF_ADD | BPF_K
	bpfAlu64Or  = 0x47 // BPF_ALU64 | BPF_OR | BPF_K
	bpfExit     = 0x95 // BPF_JMP | BPF_EXIT
)

func classifierProgram() []bpfInsn {
	return []bpfInsn{
		{code: bpfLdxMemW, regs: 1 << 4, off: skbIngressIfindex}, // r0 = *(u32 *)(r1 + off)
		{code: bpfAlu64Mod, imm: classModulus},
		{code: bpfAlu64Add, imm: 1},
		{code: bpfAlu64Or, imm: int32(rootHandle)},
		{code: bpfExit},
	}
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// prog_name.
type bpfProgLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [unix.BPF_OBJ_NAME_LEN]byte
}

// loadClassifier loads classifierProgram as a BPF_PROG_TYPE_SCHED_CLS
// program and returns its fd. A verifier rejection carries the verifier
// log.
func loadClassifier() (int, error) {
	insns := classifierProgram()
	license := []byte("Apache-2.0\x00") // no GPL-only helpers used
	logBuf := make([]byte, 4096)
	attr := bpfProgLoadAttr{
		progType: unix.BPF_PROG_TYPE_SCHED_CLS,
		insnCnt:  uint32(len(insns)),
		insns:    uint64(uintptr(unsafe.Pointer(&insns[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 1,
		logSize:  uint32(len(logBuf)),
		logBuf:   uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
	}
	copy(attr.progName[:], classifierName)
	// The verifier gives up with EAGAIN when a signal is pending, and the
	// Go runtime signals its threads (preemption), so retry as libbpf does.
	var fd uintptr
	var errno unix.Errno
	for try := 0; try < 20; try++ {
		fd, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != unix.EAGAIN {
			break
		}
	}
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		msg := unix.ByteSliceToString(logBuf)
		if msg != "" {
			return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w: %s", errno, msg)
		}
		return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", errno)
	}
	unix.CloseOnExec(int(fd))
	return int(fd), nil
}
