//go:build vmlab

package vmlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestVMKernelDataplane: bngbox in the guest with dataplane: kernel (pppoe
// + ppp_generic, pppN interfaces), subscribers emulated from the host by
// bngbox loadgen on the tap. Sessions come up, a pppN per session carries
// the pings, `show sessions json` reports the kernel's counters, and the
// pppN interfaces go when the subscribers hang up.
func TestVMKernelDataplane(t *testing.T) { testVMKernelPPPoE(t, "", nil) }

// TestVMKernelDataplaneVLAN is the same with 802.1Q-tagged subscribers
// (VLAN 100): the backend makes eth0.100 for the sessions and removes it
// after the last one.
func TestVMKernelDataplaneVLAN(t *testing.T) {
	testVMKernelPPPoE(t, "100", map[string]string{"eth0.100": "vlan_protocol_802.1Q_id_100"})
}

// TestVMKernelDataplaneQinQ: double-tagged subscribers (outer 10, inner
// 20): eth0.10 (802.1ad) and eth0.10.20 (802.1Q) on top of it.
func TestVMKernelDataplaneQinQ(t *testing.T) {
	testVMKernelPPPoE(t, "10.20", map[string]string{
		"eth0.10":    "vlan_protocol_802.1ad_id_10",
		"eth0.10.20": "vlan_protocol_802.1Q_id_20",
	})
}

// testVMKernelPPPoE runs the kernel-bng scenario with subscribers on vlan
// ("" untagged, "100", "10.20"); wantVLANDevs are the VLAN devices (and
// their `ip -d link` protocol and ID) the guest must show while the
// sessions are up.
func testVMKernelPPPoE(t *testing.T, vlan string, wantVLANDevs map[string]string) {
	const sessions, pings = 2, 5
	h := newHost(t)
	params := map[string]string{"sessions": fmt.Sprint(sessions), "pings": fmt.Sprint(pings)}
	if vlan != "" {
		params["vlans"] = vlan
	}
	vm := h.StartVM("kernel-bng", params)
	vm.WaitLine("VMLAB-READY")
	pcap := filepath.Join(h.Dir, "tap.pcap")
	ts := h.Start(h.NS, "tshark", "-q", "-i", h.Tap, "-w", pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.WaitOutput(ctx, "Capture started"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ts.Stop(5 * time.Second)
			os.Chmod(h.Dir, 0o755)
			os.Chmod(pcap, 0o644)
			out, _ := exec.Command("tshark", "-r", pcap).Output()
			t.Logf("tap capture:\n%s", out)
		}
	})
	args := []string{"loadgen", "-i", h.Tap, "-n", fmt.Sprint(sessions), "--auth", "any",
		"--ping", bngIP, "--ping-count", fmt.Sprint(pings), "--hold", "20s", "--timeout", "120s", "-v"}
	if vlan != "" {
		args = append(args, "--vlan", vlan)
	}
	out, err := h.Try(h.NS, append([]string{bin(t)}, args...)...)
	t.Logf("loadgen:\n%s", out)
	if err != nil {
		t.Errorf("loadgen: %v", err)
	}
	r := vm.Wait()

	if got := r.Get("dataplane"); got != "kernel" {
		t.Fatalf("guest daemon's dataplane = %q, want kernel", got)
	}
	if r.Get("sessions_ok") != "1" {
		t.Errorf("the guest did not see %d active sessions with %d packets each", sessions, pings)
	}
	var infos []struct {
		State  string `json:"state"`
		Ifname string `json:"ifname"`
		IP     string `json:"ip"`
		Stats  struct {
			RxBytes   uint64 `json:"rx_bytes"`
			RxPackets uint64 `json:"rx_packets"`
			TxBytes   uint64 `json:"tx_bytes"`
			TxPackets uint64 `json:"tx_packets"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(r.Get("sessions")), &infos); err != nil {
		t.Fatalf("show sessions json from the guest: %v: %q", err, r.Get("sessions"))
	}
	if len(infos) != sessions {
		t.Errorf("%d sessions, want %d", len(infos), sessions)
	}
	for _, in := range infos {
		if !strings.HasPrefix(in.Ifname, "ppp") || in.State != "active" {
			t.Errorf("session %+v: want an active pppN", in)
		}
		// pings echo requests in, as many replies out; at least an IPv4
		// and an ICMP header (28 bytes) each.
		if in.Stats.RxPackets < pings || in.Stats.TxPackets < pings || in.Stats.RxBytes < pings*28 || in.Stats.TxBytes < pings*28 {
			t.Errorf("session %s counters %+v: want at least %d packets each way", in.Ifname, in.Stats, pings)
		}
		if k := r.Get(in.Ifname + ".kernel_rx_packets"); k == "" || k == "0" {
			t.Errorf("%s: kernel rx_packets %q", in.Ifname, k)
		}
		if mtu := r.Get(in.Ifname + ".mtu"); mtu != "1492" {
			t.Errorf("%s: mtu %s, want 1492", in.Ifname, mtu)
		}
		if a := r.Get(in.Ifname + ".addr"); a != bngIP+"_"+in.IP+"/32" {
			t.Errorf("%s: address %q, want %s peer %s/32", in.Ifname, a, bngIP, in.IP)
		}
	}
	var names []string
	for name, want := range wantVLANDevs {
		names = append(names, name)
		if got := r.Get(name + ".vlan"); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	sort.Strings(names)
	if got := r.Get("vlan_ifaces"); got != strings.Join(names, ",") {
		t.Errorf("VLAN devices while up: %q, want %q", got, strings.Join(names, ","))
	}
	if got := r.Get("vlan_ifaces_after"); got != "" {
		t.Errorf("VLAN devices left after the hangups: %s", got)
	}
	if got := r.Get("ppp_ifaces_after"); got != "" {
		t.Errorf("ppp interfaces left after hangup: %s", got)
	}
	if got := r.Get("acct_stops"); got != fmt.Sprint(sessions) {
		t.Errorf("accounting stops %s, want %d", got, sessions)
	}
}
