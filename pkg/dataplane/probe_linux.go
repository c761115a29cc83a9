package dataplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ProbeKernel checks what the kernel backend needs: the PPP channel driver
// (/dev/ppp, char 108:0, ppp_generic), PPPoE sockets (AF_PPPOX with
// PX_PROTO_OE, module pppoe) and the "l2tp" generic netlink family
// (l2tp_netlink). It returns nil when all are there, or an error wrapping
// ErrUnsupported that names every missing piece.
func ProbeKernel() error {
	var missing []string
	if err := probePPPDev(); err != nil {
		missing = append(missing, "ppp_generic (/dev/ppp: "+err.Error()+")")
	}
	fd, err := unix.Socket(unix.AF_PPPOX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, pxProtoOE)
	if err != nil {
		missing = append(missing, "pppoe (socket AF_PPPOX PX_PROTO_OE: "+err.Error()+")")
	} else {
		unix.Close(fd)
	}
	if _, err := netlink.GenlFamilyGet("l2tp"); err != nil {
		missing = append(missing, "l2tp_netlink (generic netlink family l2tp: "+err.Error()+")")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("dataplane: kernel lacks %s: %w", strings.Join(missing, "; "), ErrUnsupported)
}

// pxProtoOE is PX_PROTO_OE from linux/if_pppox.h.
const pxProtoOE = 0

const pppMajor, pppMinor = 108, 0

// probePPPDev opens /dev/ppp, or, when the node does not exist, a node it
// creates in a private temporary directory and removes again.
func probePPPDev() error {
	err := openClose("/dev/ppp")
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir, err := os.MkdirTemp("", "bngbox-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	node := filepath.Join(dir, "ppp")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(pppMajor, pppMinor))); err != nil {
		return fmt.Errorf("absent and cannot create it: %w", os.NewSyscallError("mknod", err))
	}
	if err := openClose(node); err != nil {
		return fmt.Errorf("absent; a char %d:%d node does not open: %w", pppMajor, pppMinor, errors.Unwrap(err))
	}
	return nil
}

func openClose(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
