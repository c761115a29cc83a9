//go:build integration

package pppoe

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
)

// writePcap writes Ethernet frames to a classic pcap file.
func writePcap(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)     // thiszone
	b = binary.LittleEndian.AppendUint32(b, 0)     // sigfigs
	b = binary.LittleEndian.AppendUint32(b, 65535) // snaplen
	b = binary.LittleEndian.AppendUint32(b, 1)     // LINKTYPE_ETHERNET
	for i, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(t0.Unix())+uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationTsharkDecodes has Wireshark's dissector decode a whole
// discovery exchange (untagged, 802.1Q and QinQ; success and error PADS;
// PADT both ways) and checks there are no malformed packets or expert
// warnings, and that the fields decode to what we sent.
func TestIntegrationTsharkDecodes(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	s := newServer(t, func(c *Config) { c.MaxPerMAC = 1 })
	var frames [][]byte
	var want []string // code/session per frame, as tshark prints them
	add := func(f []byte) {
		if f == nil {
			t.Fatalf("frame %d: nil", len(frames)+1)
		}
		frames = append(frames, f)
		_, off, err := ether.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		h, _, _, err := ParseHeader(f[off:])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, strings.Join([]string{
			"0x" + hex2(uint8(h.Code)), "0x" + hex4(h.SessionID)}, ","))
	}
	for i, vlans := range [][]uint16{nil, {100}, {1000, 200}} {
		c := newClient([]byte{2, 0xcc, 0, 0, 0, byte(i + 1)}, vlans...)
		c.extra = []Tag{
			{TagRelaySessionID, []byte("relay-1")},
			{TagPPPMaxPayload, u16(1500)},
			{TagVendorSpecific, []byte{0, 0, 0x0d, 0xe9, 0x01, 0x04, 'a', 'b', 'c', 'd'}},
		}
		padi := c.padi()
		add(padi)
		pado, _ := s.Handle(t0, "eth1", portMAC, padi)
		add(pado)
		_, p := decode(t, c, pado)
		padr := c.padr(t, p)
		add(padr)
		pads, ev := s.Handle(t0, "eth1", portMAC, padr)
		add(pads)
		ns := ev.(*NewSession)
		// A second Host-Uniq from the same MAC: AC-System-Error PADS.
		c.hostUniq = []byte("again")
		padr2 := c.padr(t, p)
		add(padr2)
		errPADS, _ := s.Handle(t0, "eth1", portMAC, padr2)
		add(errPADS)
		if i == 0 {
			padt := c.padt(ns.SessionID)
			add(padt)
			if _, ev := s.Handle(t0.Add(time.Second), "eth1", portMAC, padt); ev == nil {
				t.Fatal("no PeerTerminated")
			}
		} else {
			add(s.PADT("eth1", portMAC, c.mac, vlans, ns.SessionID, "session terminated by operator"))
		}
	}
	path := filepath.Join(t.TempDir(), "discovery.pcap")
	writePcap(t, path, frames)

	out, err := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "pppoe.code", "-e", "pppoe.session_id").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(filterWarnings(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tshark decoded (-want +got):\n- %q\n+ %q", want, got)
	}
	// No malformed packets, no expert warnings or errors.
	if bad := flagged(t, tshark, path); bad != "" {
		t.Fatalf("tshark flags frames:\n%s", bad)
	}
	// The check itself works: a frame whose tag overruns the payload is flagged.
	broken := bytes.Clone(frames[0])
	broken[ether.HeaderLen+HeaderLen+3] = 0xff // first tag (Service-Name) length
	if _, _, err := Parse(broken[ether.HeaderLen:]); err == nil {
		t.Fatal("broken frame parses")
	}
	brokenPath := filepath.Join(t.TempDir(), "broken.pcap")
	writePcap(t, brokenPath, [][]byte{broken})
	if flagged(t, tshark, brokenPath) == "" {
		t.Fatal("tshark does not flag a broken frame; the malformed check proves nothing")
	}
	// Tags decode to what we sent.
	out, err = exec.Command(tshark, "-n", "-r", path, "-Y", "frame.number == 2", "-T", "fields",
		"-e", "pppoed.tags.ac_name", "-e", "pppoed.tags.max_payload", "-e", "pppoed.tags.relay_session_id").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(filterWarnings(out)); got != "bng1\t05dc\t72656c61792d31" {
		t.Fatalf("PADO tags decode to %q", got)
	}
	if testing.Verbose() {
		out, _ = exec.Command(tshark, "-n", "-r", path).CombinedOutput()
		t.Logf("\n%s", out)
	}
}

// flagged lists the frames tshark marks malformed or with expert
// warnings/errors.
func flagged(t *testing.T, tshark, path string) string {
	t.Helper()
	out, err := exec.Command(tshark, "-n", "-r", path, "-Y",
		"_ws.malformed || _ws.expert.severity >= 6291456 || pppoe.payload_length.bad || pppoed.tag_length.invalid").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	return strings.TrimSpace(filterWarnings(out))
}

// filterWarnings drops tshark's "running as root" chatter.
func filterWarnings(out []byte) string {
	var keep [][]byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if bytes.Contains(l, []byte("Running as user")) || bytes.Contains(l, []byte("dangerous")) {
			continue
		}
		keep = append(keep, l)
	}
	return string(bytes.Join(keep, []byte("\n")))
}

func hex2(v uint8) string  { return string([]byte{hexd[v>>4], hexd[v&15]}) }
func hex4(v uint16) string { return hex2(uint8(v>>8)) + hex2(uint8(v)) }

const hexd = "0123456789abcdef"
