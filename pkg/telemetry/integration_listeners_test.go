//go:build integration

package telemetry

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bngbox/bngbox/pkg/session"
)

// selfSigned writes a CA-flagged self-signed certificate for 127.0.0.1 and
// localhost and returns the cert and key paths.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestIntegrationTLSListener(t *testing.T) {
	cert, key := selfSigned(t)
	tl := startTelemetry(t, Config{TLSListen: "127.0.0.1:0", TLSCert: cert, TLSKey: key})
	_, port := hostPort(t, tl.TLSAddr())
	p := run(t, "mosquitto_sub", "-d", "-v", "-h", "127.0.0.1", "-p", port, "--cafile", cert,
		"-u", "alice", "-P", "secret", "-q", "1", "-t", "bngbox/nas1/session/alice/#")
	p.next(func(l string) bool { return strings.HasPrefix(l, "Subscribed (mid") }, "SUBACK over TLS")
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	p.message("bngbox/nas1/session/alice/state")
}

// TestIntegrationWebSocketListener logs in over MQTT-over-WebSocket
// (no Debian client speaks it, so a gorilla client carries our own
// CONNECT) and checks that customer authentication applies there too.
func TestIntegrationWebSocketListener(t *testing.T) {
	addr := startTelemetry(t, Config{WSListen: "127.0.0.1:0"}).WSAddr()
	connack := func(user, pw string) byte {
		t.Helper()
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: waitFor}
		c, _, err := d.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WriteMessage(websocket.BinaryMessage, connectPacket("ws-"+user, user, pw, 30)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(waitFor))
		_, r, err := c.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		typ, _, body, err := readPacket(bufio.NewReader(r))
		if err != nil || typ != pktConnack {
			t.Fatalf("CONNACK: type %d, %v", typ, err)
		}
		rc, _ := connackCode(body)
		return rc
	}
	if rc := connack("alice", "secret"); rc != 0 {
		t.Fatalf("alice over ws: CONNACK %d, want 0", rc)
	}
	// 3.1.1 §3.2.2.3: 4 bad user name or password, 5 not authorized (mochi).
	if rc := connack("alice", "wrong"); rc != 4 && rc != 5 {
		t.Fatalf("wrong password over ws: CONNACK %d, want 4 or 5", rc)
	}
}

// TestIntegrationBridgeQueueSurvivesRestart: bngbox queues while the
// upstream is down, restarts, and delivers the queue once it is up.
func TestIntegrationBridgeQueueSurvivesRestart(t *testing.T) {
	up := newUpstream(t)
	queue := filepath.Join(t.TempDir(), "bridge.db")
	cfg := Config{Bridge: &BridgeConfig{Address: up.addr(), Username: "bngbox", Password: "bridgepw",
		QueuePath: queue, RetryInterval: 100 * time.Millisecond}}
	tl := startTelemetry(t, cfg)
	in := aliceInfo()
	for i := 1; i <= 20; i++ {
		in.Stats.RxBytes = uint64(i)
		tl.SessionEvent(session.Event{Kind: session.EventInterim, Info: in})
	}
	if _, err := tl.Reconcile(func(string, string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}

	up.start()
	central := centralSub(t, up, true)
	startTelemetry(t, cfg)
	for i := 1; i <= 20; i++ {
		_, p := central.message("bngbox/nas1/session/alice/usage")
		if got := decode[Usage](t, p).OctetsIn; got != uint64(i) {
			t.Fatalf("usage #%d: octets_in %d", i, got)
		}
	}
}
