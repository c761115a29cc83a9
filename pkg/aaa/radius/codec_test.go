package radius

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

func testClient(t testing.TB) *Client {
	t.Helper()
	c, err := New(Config{NASIdentifier: "nas1", NASIPAddress: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// independentMA computes the Message-Authenticator from RFC 3579 §3.2
// directly: HMAC-MD5 of the packet with the MA value zeroed.
func independentMA(b, secret []byte, auth []byte) []byte {
	c := bytes.Clone(b)
	copy(c[4:20], auth)
	off, _ := findMessageAuthenticator(c)
	clear(c[off : off+16])
	h := hmac.New(md5.New, secret)
	h.Write(c)
	return h.Sum(nil)
}

func TestAccessRequestMessageAuthenticator(t *testing.T) {
	c := testClient(t)
	secret := []byte("s3cret")
	b, err := c.encodeAccessRequest(&aaa.Request{User: "alice", Method: aaa.PAP, Password: "pw", SessionID: "00000001DEADBEEF"}, secret, 42)
	if err != nil {
		t.Fatal(err)
	}
	if b[1] != 42 || b[20] != byte(attrMessageAuthenticator) || b[21] != 18 {
		t.Fatalf("want ID 42 and Message-Authenticator first, got % x", b[:22])
	}
	if want := independentMA(b, secret, b[4:20]); !bytes.Equal(b[22:38], want) {
		t.Errorf("Message-Authenticator % x, want % x", b[22:38], want)
	}
	auth := [16]byte(b[4:20])
	if present, err := verifyMessageAuthenticator(b, secret, &auth); !present || err != nil {
		t.Errorf("verify: %v %v", present, err)
	}
	b[len(b)-1] ^= 1
	if _, err := verifyMessageAuthenticator(b, secret, &auth); !errors.Is(err, ErrBadMessageAuthenticator) {
		t.Errorf("tampered: %v", err)
	}
	// The password decrypts with layeh's implementation.
	b[len(b)-1] ^= 1
	p, err := radius.Parse(b, secret)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := radius.UserPassword(p.Get(attrUserPassword), secret, p.Authenticator[:])
	if err != nil || string(pw) != "pw" {
		t.Errorf("password %q %v", pw, err)
	}
}

// reply builds a server reply to a request authenticator, optionally with
// Message-Authenticator.
func reply(t testing.TB, code radius.Code, id byte, reqAuth [16]byte, secret []byte, withMA bool, attrs ...*radius.AVP) []byte {
	p := &radius.Packet{Code: code, Identifier: id, Authenticator: reqAuth}
	if withMA {
		p.Add(attrMessageAuthenticator, make([]byte, 16))
	}
	p.Attributes = append(p.Attributes, attrs...)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if withMA {
		if err := signMessageAuthenticator(b, secret, &reqAuth); err != nil {
			t.Fatal(err)
		}
	}
	responseAuthenticator(b, secret, &reqAuth)
	return b
}

func TestVerifyResponse(t *testing.T) {
	secret := []byte("s3cret")
	auth := [16]byte{1, 2, 3}
	good := reply(t, radius.CodeAccessAccept, 1, auth, secret, true)
	noMA := reply(t, radius.CodeAccessAccept, 1, auth, secret, false)
	badMA := bytes.Clone(good)
	badMA[22] ^= 0xff
	responseAuthenticator(badMA, secret, &auth) // valid response auth, wrong MA
	tests := []struct {
		name      string
		b         []byte
		secret    string
		requireMA bool
		want      error
	}{
		{"good", good, "s3cret", true, nil},
		{"wrong secret", good, "other", true, ErrBadAuthenticator},
		{"missing MA allowed", noMA, "s3cret", false, nil},
		{"missing MA required", noMA, "s3cret", true, ErrNoMessageAuthenticator},
		{"bad MA", badMA, "s3cret", false, ErrBadMessageAuthenticator},
		{"short", good[:10], "s3cret", false, errShortPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyResponse(tt.b, []byte(tt.secret), &auth, tt.requireMA); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzVerifyResponse(f *testing.F) {
	secret := []byte("s3cret")
	auth := [16]byte{1, 2, 3}
	f.Add(reply(f, radius.CodeAccessAccept, 1, auth, secret, true))
	f.Add(reply(f, radius.CodeAccessReject, 1, auth, secret, false, avp(attrReplyMessage, []byte("no"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = verifyResponse(b, secret, &auth, true)
		_, _ = findMessageAuthenticator(b)
	})
}

func TestSplitGigawords(t *testing.T) {
	for _, tt := range []struct {
		n       uint64
		oct, gw uint32
	}{
		{0, 0, 0},
		{1<<32 - 1, 1<<32 - 1, 0},
		{1 << 32, 0, 1},
		{5<<32 + 12345, 12345, 5},
		{1<<64 - 1, 1<<32 - 1, 1<<32 - 1},
	} {
		oct, gw := splitGigawords(tt.n)
		if oct != tt.oct || gw != tt.gw || uint64(gw)<<32|uint64(oct) != tt.n {
			t.Errorf("%d: got %d+%d, want %d+%d", tt.n, gw, oct, tt.gw, tt.oct)
		}
	}
}

func TestAccountingEncode(t *testing.T) {
	c := testClient(t)
	rec := &aaa.AcctRecord{
		Type: aaa.AcctStop, Time: time.Unix(1_800_000_000, 0),
		Request:     &aaa.Request{SessionID: "00000001DEADBEEF", User: "alice", PortType: aaa.PortEthernet},
		Reply:       &aaa.Reply{Class: [][]byte{[]byte("c1")}},
		SessionTime: 90 * time.Second,
		Stats:       dataplane.Stats{RxBytes: 6<<32 + 7, TxBytes: 9, RxPackets: 1 << 40, TxPackets: 3},
		Cause:       aaa.CauseIdleTimeout,
	}
	it, err := c.newAcctItem(rec)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("s3cret")
	created := time.Unix(1000, 0)
	b, err := encodeAcct(it.attrs, created, created.Add(17500*time.Millisecond), secret, 9)
	if err != nil {
		t.Fatal(err)
	}
	if !radius.IsAuthenticRequest(b, secret) {
		t.Fatal("bad request authenticator")
	}
	p, err := radius.Parse(b, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := map[radius.Type]uint32{
		attrAcctStatusType: 2, attrAcctDelayTime: 17, attrAcctInputOctets: 7, attrAcctInputGigawords: 6,
		attrAcctOutputOctets: 9, attrAcctOutputGigawords: 0, attrAcctInputPackets: 1<<32 - 1, attrAcctOutputPackets: 3,
		attrAcctSessionTime: 90, attrAcctTerminateCause: 4, attrNASPortType: 15, attrEventTimestamp: 1_800_000_000,
		attrServiceType: 2, attrFramedProtocol: 1,
	}
	for typ, v := range want {
		got, err := integer(p.Get(typ))
		if err != nil || got != v {
			t.Errorf("attribute %d: got %d (%v), want %d", typ, got, err, v)
		}
	}
	for typ, v := range map[radius.Type]string{attrAcctSessionID: "00000001DEADBEEF", attrUserName: "alice", attrClass: "c1", attrNASIdentifier: "nas1"} {
		if got := string(p.Get(typ)); got != v {
			t.Errorf("attribute %d: got %q, want %q", typ, got, v)
		}
	}
	if _, err := c.newAcctItem(&aaa.AcctRecord{Type: aaa.AcctStart}); err == nil {
		t.Error("start without session: want error")
	}
	if _, err := c.newAcctItem(&aaa.AcctRecord{Type: aaa.AcctOn}); err != nil {
		t.Errorf("accounting-on: %v", err)
	}
}

func BenchmarkEncodeAccessRequest(b *testing.B) {
	c := testClient(b)
	req := &aaa.Request{SessionID: "00000001DEADBEEF", User: "alice@isp", Method: aaa.PAP, Password: "secret",
		CallingStationID: "02:00:00:00:00:01", NASPortID: "eth1:100.200", PortType: aaa.PortEthernet}
	secret := []byte("s3cret")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.encodeAccessRequest(req, secret, byte(i)); err != nil {
			b.Fatal(err)
		}
	}
}
