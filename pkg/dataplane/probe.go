package dataplane

import "fmt"

// Backend kinds, as Kind returns them and as Select chooses them.
const (
	KindKernel    = "kernel"
	KindUserspace = "userspace"
	KindFake      = "fake"
)

// Select picks the backend for the configured mode ("auto", "kernel" or
// "userspace") and says why. "auto" picks the kernel backend only when
// ProbeKernel passes; "kernel" fails (wrapping ErrUnsupported) when it does
// not.
func Select(mode string) (kind, why string, err error) {
	return selectWith(mode, ProbeKernel)
}

func selectWith(mode string, probe func() error) (kind, why string, err error) {
	switch mode {
	case KindUserspace:
		return KindUserspace, "configured: dataplane userspace", nil
	case KindKernel:
		if err := probe(); err != nil {
			return "", "", fmt.Errorf("dataplane: kernel backend configured: %w", err)
		}
		return KindKernel, "configured: dataplane kernel (probe passed)", nil
	case "auto", "":
		if err := probe(); err != nil {
			return KindUserspace, "auto: kernel backend unavailable (" + err.Error() + ")", nil
		}
		return KindKernel, "auto: kernel has /dev/ppp, AF_PPPOX and the l2tp netlink family", nil
	}
	return "", "", fmt.Errorf("dataplane: unknown mode %q (want auto, kernel or userspace)", mode)
}
