//go:build vmlab

// Package vmlab boots a stock Debian kernel under qemu (TCG) with real
// third-party PPP clients (pppd, xl2tpd) in an initramfs, and tests bngbox
// against them. Run with `make test-vm` (root; BNGBOX_BIN points at the
// static binary). See docs/vmlab.md.
//
// Topology (one host namespace per test, names prefixed "bbvm"):
//
//	guest eth0 (virtio, 52:54:00:12:34:56) ── qemu ── tap bbvm…t ── host netns bbvm…h
//
// qemu runs inside the host namespace, so the tap never leaves it. The
// guest's /init runs the scenario named on the kernel command line and
// reports "VMLAB-RESULT key=value" lines on the serial console.
package vmlab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/netnstest"
)

// guestMAC is the guest NIC's address.
const guestMAC = "52:54:00:12:34:56"

// vmTimeout bounds one boot-scenario-poweroff cycle. TCG on a loaded CI
// machine can be several times slower than the ~20 s it takes when idle.
const vmTimeout = 5 * time.Minute

func bin(t *testing.T) string {
	t.Helper()
	b := os.Getenv("BNGBOX_BIN")
	if b == "" {
		t.Fatal("BNGBOX_BIN is not set: run through `make test-vm`")
	}
	return b
}

var (
	imageOnce            sync.Once
	imageKernel, imageRD string
	imageErr             error
)

// image builds (or takes from cache/) the kernel and initramfs, once per
// test binary.
func image(t *testing.T) (kernel, initrd string) {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "apt-get", "dpkg", "cpio", "busybox", "ldd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required by the VM lab: %v", tool, err)
		}
	}
	b := bin(t)
	imageOnce.Do(func() {
		start := time.Now()
		out, err := exec.Command("sh", "mkinitrd.sh", "cache", b, filepath.Join("cache", "initrd.gz")).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				out = append(out, ee.Stderr...)
			}
			imageErr = fmt.Errorf("mkinitrd.sh: %w\n%s", err, out)
			return
		}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				switch k {
				case "kernel":
					imageKernel = v
				case "initrd":
					imageRD = v
				}
			}
		}
		if imageKernel == "" || imageRD == "" {
			imageErr = fmt.Errorf("mkinitrd.sh printed no kernel/initrd:\n%s", out)
		}
		t.Logf("image ready in %v: %s %s", time.Since(start).Round(time.Millisecond), imageKernel, imageRD)
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageKernel, imageRD
}

// Host is a host namespace with a tap for the guest's NIC.
type Host struct {
	*netnstest.Lab
	t   *testing.T
	NS  string
	Tap string
	Dir string
	// Guest size and patience; newHost sets the defaults (1 vCPU,
	// 384 MiB, vmTimeout). A test may change them before StartVM.
	CPUs    int
	MemMiB  int
	Timeout time.Duration
}

func newHost(t *testing.T) *Host {
	t.Helper()
	h := &Host{Lab: netnstest.New(t, "bbvm"), t: t, Dir: t.TempDir(), CPUs: 1, MemMiB: 384, Timeout: vmTimeout}
	h.NS = h.Lab.NS("h")
	h.Tap = h.Name("t")
	h.Exec(h.NS, "ip", "tuntap", "add", "dev", h.Tap, "mode", "tap")
	h.Exec(h.NS, "ip", "link", "set", h.Tap, "up")
	return h
}

// Result is what the guest reported.
type Result struct {
	Values map[string]string // VMLAB-RESULT key=value
	RC     string            // scenario exit code from VMLAB-DONE
	Wall   time.Duration     // qemu start to VMLAB-DONE
	Log    string            // the whole console
}

// Get returns a result value, "" when absent.
func (r *Result) Get(k string) string { return r.Values[k] }

// A VM is a running guest.
type VM struct {
	h        *Host
	scenario string
	p        *netnstest.Proc
	start    time.Time
}

// Boot runs the guest with scenario and vmlab.KEY=VALUE parameters to
// completion and returns what it reported.
func (h *Host) Boot(scenario string, params map[string]string) *Result {
	h.t.Helper()
	return h.StartVM(scenario, params).Wait()
}

// StartVM starts the guest with scenario and vmlab.KEY=VALUE parameters.
// The console is logged when the test fails.
func (h *Host) StartVM(scenario string, params map[string]string) *VM {
	h.t.Helper()
	kernel, initrd := image(h.t)
	cmdline := []string{"console=ttyS0", "quiet", "loglevel=3", "panic=-1", "no_timer_check", "vmlab.scenario=" + scenario}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmdline = append(cmdline, "vmlab."+k+"="+params[k])
	}
	vm := &VM{h: h, scenario: scenario, start: time.Now()}
	vm.p = h.Start(h.NS, "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", fmt.Sprint(h.MemMiB), "-smp", fmt.Sprint(h.CPUs),
		"-no-reboot", "-nodefaults", "-display", "none", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", strings.Join(cmdline, " "),
		"-netdev", "tap,id=n0,ifname="+h.Tap+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+guestMAC)
	h.t.Cleanup(func() {
		if h.t.Failed() {
			h.t.Logf("guest console (%s):\n%s", scenario, vm.p.Out.String())
		}
	})
	// VMLAB_CONSOLE=FILE: the console so far, rewritten every second
	// (to follow a long scenario).
	if f := os.Getenv("VMLAB_CONSOLE"); f != "" {
		go func() {
			for {
				select {
				case <-vm.p.Exited():
					os.WriteFile(f, []byte(vm.p.Out.String()), 0o644)
					return
				case <-time.After(time.Second):
					os.WriteFile(f, []byte(vm.p.Out.String()), 0o644)
				}
			}
		}()
	}
	return vm
}

// WaitLine waits until the console shows s.
func (vm *VM) WaitLine(s string) {
	vm.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), vm.h.Timeout)
	defer cancel()
	if err := vm.p.WaitOutput(ctx, s); err != nil {
		vm.h.t.Fatalf("guest %s: %v", vm.scenario, err)
	}
}

// Wait waits for VMLAB-DONE and the guest's power-off, and returns what the
// guest reported.
func (vm *VM) Wait() *Result {
	vm.h.t.Helper()
	vm.WaitLine("VMLAB-DONE")
	r := &Result{Values: map[string]string{}, Wall: time.Since(vm.start)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-vm.p.Exited():
	case <-ctx.Done():
		vm.p.Stop(time.Second)
	}
	r.Log = vm.p.Out.String()
	sc := bufio.NewScanner(strings.NewReader(r.Log))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, "VMLAB-RESULT "); i >= 0 {
			if k, v, ok := strings.Cut(line[i+len("VMLAB-RESULT "):], "="); ok {
				r.Values[k] = v
			}
		}
		if i := strings.Index(line, "VMLAB-DONE rc="); i >= 0 {
			r.RC, _, _ = strings.Cut(line[i+len("VMLAB-DONE rc="):], " ")
		}
	}
	vm.h.t.Logf("guest %s: done in %v, results %v", vm.scenario, r.Wall.Round(time.Millisecond), r.Values)
	return r
}
