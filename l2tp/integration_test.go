//go:build integration

// Topology (all inside a network namespace this test creates):
//
//	netns l2tpt<pid>
//	  lo 127.0.0.1 ── l2tpns LNS :1701        (Debian l2tpns, userspace)
//	  lo 127.0.0.2 ── our LNS :1701
//	  lo 127.0.0.1 ── our LAC :ephemeral       (socket opened inside the netns)
//	  clu0 169.254.77.1/30 ↔ clu1              (l2tpns needs a cluster interface with an IPv4 address)
//	  dumpcap on lo → capture.pcapng → tshark: no malformed packets
package l2tp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetNS creates a named netns with lo and a veth pair up; it is
// deleted at cleanup.
func newNetNS(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("l2tpt%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	x := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", ns}, args...)...) }
	x("ip", "link", "set", "lo", "up")
	x("ip", "link", "add", "clu0", "type", "veth", "peer", "name", "clu1")
	x("ip", "addr", "add", "169.254.77.1/30", "dev", "clu0")
	x("ip", "link", "set", "clu0", "up")
	x("ip", "link", "set", "clu1", "up")
	return ns
}

// listenIn opens a UDP socket inside netns ns: the socket keeps the netns
// it was created in.
func listenIn(t *testing.T, ns, addr string) *net.UDPConn {
	t.Helper()
	type res struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan res)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer orig.Close()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		ua, _ := net.ResolveUDPAddr("udp", addr)
		c, err := net.ListenUDP("udp", ua)
		_ = unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s: %v", ns, r.err)
	}
	return r.c
}

// startProc starts a command in its own session and kills it (its process
// group, whose leader is the PID we started) at cleanup.
func startProc(t *testing.T, logf string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if logf != "" {
		f, err := os.Create(logf)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		t.Cleanup(func() { f.Close() })
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(-pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd
}

func waitFile(t *testing.T, path, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), substr) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%q not in %s after %v:\n%s", substr, path, d, b)
}

func startL2tpns(t *testing.T, ns, dir string) {
	t.Helper()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o755)
	logf := filepath.Join(dir, "l2tpns.log")
	cfg := fmt.Sprintf(`set debug 3
set log_file %q
set pid_file %q
set l2tp_secret "secret"
set primary_dns 100.64.255.1
set primary_radius 127.0.0.1
set primary_radius_port 18120
set radius_secret "testing123"
set radius_accounting no
set bind_address 127.0.0.1
set iftun_address 100.64.255.254
set peer_address 100.64.255.254
set cli_bind_address 127.0.0.1
set cluster_interface "clu0"
set cluster_hb_timeout 20
set send_garp no
`, logf, filepath.Join(dir, "l2tpns.pid"))
	os.WriteFile(filepath.Join(etc, "startup-config"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(etc, "ip_pool"), []byte("100.64.0.0/24\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "users"), []byte("admin:admin\n"), 0o600)
	startProc(t, filepath.Join(dir, "l2tpns.stdout"), "ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", "mount --bind "+etc+" /etc/l2tpns && exec /usr/sbin/l2tpns -c /etc/l2tpns/startup-config")
	waitFile(t, logf, "I am declaring myself the master", 20*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("l2tpns log:\n%s", b)
		}
	})
}

// TestIntegrationLACAgainstL2tpns brings tunnels and calls up from our LAC
// to Debian's l2tpns LNS, exchanges PPP frames, tears down with CDN and
// StopCCN, and checks that a wrong secret is refused. The same capture
// holds our LAC ↔ our LNS, and tshark must find nothing malformed.
func TestIntegrationLACAgainstL2tpns(t *testing.T) {
	needRoot(t, "ip", "unshare", "l2tpns", "tshark", "dumpcap")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ns := newNetNS(t)

	pcap := filepath.Join(dir, "capture.pcapng")
	dc := startProc(t, filepath.Join(dir, "dumpcap.log"), "ip", "netns", "exec", ns, "dumpcap", "-q", "-i", "lo", "-f", "udp", "-w", pcap)
	waitFile(t, filepath.Join(dir, "dumpcap.log"), "", time.Second)
	time.Sleep(time.Second) // dumpcap has no ready signal

	startL2tpns(t, ns, dir)

	lacH := newRecHandler()
	lac, err := NewLAC(Config{Conn: listenIn(t, ns, "127.0.0.1:0"), HostName: "lac-bngbox", Handler: lacH})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lac.Serve)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peer := netip.MustParseAddrPort("127.0.0.1:1701")

	// Wrong secret: our challenge's response from l2tpns does not match.
	if _, err := lac.Dial(ctx, peer, []byte("not-the-secret")); !errors.Is(err, ErrTunnelAuth) {
		t.Fatalf("wrong secret: %v", err)
	}

	const nTunnels, nCalls = 3, 3
	for i := range nTunnels {
		tid, err := lac.Dial(ctx, peer, []byte("secret"))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		var calls []*Call
		for j := range nCalls {
			c, err := lac.Call(ctx, tid, CallParams{CallingNumber: fmt.Sprintf("sub%d-%d", i, j)})
			if err != nil {
				t.Fatalf("call %d/%d: %v", i, j, err)
			}
			recv(t, lacH.up, "NewCall")
			calls = append(calls, c)
		}
		// l2tpns starts PPP: an LCP Configure-Request arrives on each call.
		got := map[*Call]bool{}
		for len(got) < nCalls {
			d := recv(t, lacH.data, "LCP from l2tpns")
			if d.proto != ProtoLCP || len(d.payload) < 4 || d.payload[0] != 1 {
				t.Fatalf("from l2tpns: %#04x %x, want LCP Configure-Request", d.proto, d.payload)
			}
			got[d.c] = true
		}
		// Our frame reaches l2tpns: an LCP Echo-Request before LCP is open
		// is answered or ignored; a Configure-Request gets a reply.
		if err := calls[0].SendPPP(ProtoLCP, []byte{1, 1, 0, 4}); err != nil {
			t.Fatal(err)
		}
		d := recv(t, lacH.data, "LCP reply from l2tpns")
		if d.proto != ProtoLCP || (d.payload[0] != 2 && d.payload[0] != 1) {
			t.Fatalf("reply %#04x %x", d.proto, d.payload)
		}
		// CDN from us.
		if err := calls[1].Close(Result{Code: CDNAdmin}); err != nil {
			t.Fatal(err)
		}
		if ev := recv(t, lacH.closed, "CallClosed after CDN"); ev.c != calls[1] {
			t.Fatalf("closed %v", ev.c.Info())
		}
	}
	tuns := lac.Tunnels()
	if len(tuns) != nTunnels {
		t.Fatalf("tunnels %+v", tuns)
	}
	for _, ti := range tuns {
		if ti.State != TunnelEstablished || ti.Sessions != nCalls-1 {
			t.Fatalf("tunnel %+v", ti)
		}
		if err := lac.CloseTunnel(ti.LocalID, Result{Code: StopClear}); err != nil {
			t.Fatal(err)
		}
	}
	for range nTunnels * (nCalls - 1) {
		recv(t, lacH.closed, "CallClosed after StopCCN")
	}

	// Our LAC ↔ our LNS, in the same capture, for tshark.
	lnsH := newRecHandler()
	lns, err := NewLNS(Config{Conn: listenIn(t, ns, "127.0.0.2:1701"), Handler: lnsH,
		Secrets: func(netip.Addr, string) ([]byte, bool) { return []byte("secret"), true }})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)
	tid, err := lac.Dial(ctx, lns.Addr(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := lac.Call(ctx, tid, CallParams{SequencingRequired: true,
		Proxy: &ProxyInfo{AuthenType: ProxyAuthenCHAP, AuthenName: "bob", AuthenChallenge: []byte("0123456789abcdef"), AuthenID: 1, AuthenResponse: []byte("0123456789abcdef")}})
	if err != nil {
		t.Fatal(err)
	}
	lc := recv(t, lnsH.up, "LNS NewCall")
	c.SendPPP(ProtoLCP, []byte{1, 1, 0, 4})
	lc.SendPPP(ProtoIPv4, []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	recv(t, lnsH.data, "LNS data")
	recv(t, lacH.data, "LAC data")
	c.Close(Result{Code: CDNLostCarrier})
	recv(t, lnsH.closed, "LNS CallClosed")
	lns.CloseTunnel(lc.Info().TunnelID, Result{Code: StopClear})
	time.Sleep(500 * time.Millisecond) // let the last acks reach the capture

	syscall.Kill(dc.Process.Pid, syscall.SIGINT)
	dc.Wait()
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Fatalf("malformed packets:\n%s", s)
	}
	out, err = exec.Command("tshark", "-r", pcap, "-Y", "l2tp", "-T", "fields", "-e", "l2tp.avp.message_type").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		seen[strings.TrimSpace(sc.Text())] = true
	}
	for _, mt := range []MsgType{MsgSCCRQ, MsgSCCRP, MsgSCCCN, MsgStopCCN, MsgICRQ, MsgICRP, MsgICCN, MsgCDN} {
		if !seen[fmt.Sprint(uint16(mt))] {
			t.Errorf("tshark decoded no %s (saw %v)", mt, seen)
		}
	}
}

// TestIntegrationXl2tpdLACAgainstOurLNS points Debian's xl2tpd (as LAC,
// userspace mode: this host has no l2tp_ppp) at our LNS in a private netns
// and checks that the tunnel authenticates with a challenge both ways and
// that the call is established with ICRQ/ICRP/ICCN.
//
//	netns l2tpt<pid>: xl2tpd 127.0.0.1:1701  ──►  our LNS 127.0.0.2:1701
func TestIntegrationXl2tpdLACAgainstOurLNS(t *testing.T) {
	needRoot(t, "ip", "xl2tpd")
	dir := t.TempDir()
	ns := newNetNS(t)
	lnsH := newRecHandler()
	var hosts []string
	lns, err := NewLNS(Config{Conn: listenIn(t, ns, "127.0.0.2:1701"), Handler: lnsH, RequireAuth: true,
		Secrets: func(_ netip.Addr, host string) ([]byte, bool) {
			hosts = append(hosts, host) // loop goroutine only
			return []byte("secret"), true
		}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)

	conf := fmt.Sprintf(`[global]
listen-addr = 127.0.0.1
port = 1701
access control = no
[lac lns1]
lns = 127.0.0.2
autodial = yes
redial = no
length bit = yes
require authentication = no
challenge = yes
pppoptfile = %s/options
`, dir)
	os.WriteFile(filepath.Join(dir, "xl2tpd.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "secrets"), []byte("* * secret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "options"), []byte("noauth\nnodetach\n"), 0o644)
	logf := filepath.Join(dir, "xl2tpd.log")
	startProc(t, logf, "ip", "netns", "exec", ns, "xl2tpd", "-D", "-c", filepath.Join(dir, "xl2tpd.conf"),
		"-s", filepath.Join(dir, "secrets"), "-p", filepath.Join(dir, "xl2tpd.pid"), "-C", filepath.Join(dir, "control"))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("xl2tpd log:\n%s", b)
		}
	})

	c := recv(t, lnsH.up, "call from xl2tpd")
	ci := c.Info()
	if ci.PeerTunnelID == 0 || ci.PeerSessionID == 0 || ci.FramingType == 0 {
		t.Fatalf("call info %+v", ci)
	}
	var tun TunnelInfo
	for _, ti := range lns.Tunnels() {
		if ti.LocalID == ci.TunnelID {
			tun = ti
		}
	}
	if tun.State != TunnelEstablished || tun.HostName == "" {
		t.Fatalf("tunnel %+v", tun)
	}
	// Tunnels() synchronised with the loop, which alone appends to hosts.
	if len(hosts) == 0 || hosts[0] != tun.HostName {
		t.Fatalf("secret looked up for %q, tunnel host %q", hosts, tun.HostName)
	}
	t.Logf("xl2tpd tunnel %+v, call %+v", tun, ci)
	// Tear down from our side; xl2tpd must see the StopCCN.
	if err := lns.CloseTunnel(ci.TunnelID, Result{Code: StopClear, Message: "test done"}); err != nil {
		t.Fatal(err)
	}
	recv(t, lnsH.closed, "CallClosed")
	waitFile(t, logf, "test done", 10*time.Second)
	b, _ := os.ReadFile(logf)
	for _, bad := range []string{"out of order", "nknown", "malformed", "bad ", "Bad ", "not authorized", "denied"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("xl2tpd complains (%q):\n%s", bad, b)
		}
	}
	if testing.Verbose() {
		t.Logf("xl2tpd log:\n%s", b)
	}
}
