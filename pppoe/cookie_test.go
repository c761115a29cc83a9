package pppoe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCookieIsHMAC checks the hand-rolled HMAC against crypto/hmac.
func TestCookieIsHMAC(t *testing.T) {
	for _, secret := range [][]byte{[]byte("0123456789abcdef"), make([]byte, 64), []byte(strings.Repeat("k", 100))} {
		for _, port := range []string{"eth0", strings.Repeat("p", 200)} {
			for _, vlans := range [][]uint16{nil, {10}, {10, 20}} {
				k := NewCookieKey(secret, 0)
				got := k.Append(nil, t0, cliMAC, vlans, port)
				msg := binary.BigEndian.AppendUint32(nil, uint32(t0.Unix()))
				msg = append(msg, cliMAC...)
				msg = append(msg, byte(len(vlans)))
				for _, v := range vlans {
					msg = binary.BigEndian.AppendUint16(msg, v)
				}
				if len(port) <= maxInlinePort {
					msg = append(msg, port...)
				} else {
					p := sha256.Sum256([]byte(port))
					msg = append(msg, p[:]...)
				}
				m := hmac.New(sha256.New, secret)
				m.Write(msg)
				want := append(binary.BigEndian.AppendUint32(nil, uint32(t0.Unix())), m.Sum(nil)[:16]...)
				if string(got) != string(want) {
					t.Fatalf("secret %d bytes, port %d bytes, vlans %v:\n got %x\nwant %x", len(secret), len(port), vlans, got, want)
				}
				if r := k.Verify(got, t0, cliMAC, vlans, port); r != CookieOK {
					t.Fatalf("Verify = %v", r)
				}
			}
		}
	}
}

func TestCookieVerify(t *testing.T) {
	k := NewCookieKey([]byte("0123456789abcdef"), 30*time.Second)
	c := k.Append(nil, t0, cliMAC, []uint16{1, 2}, "eth0")
	tests := []struct {
		name  string
		now   time.Time
		mac   net.HardwareAddr
		vlans []uint16
		port  string
		want  CookieResult
	}{
		{"ok", t0, cliMAC, []uint16{1, 2}, "eth0", CookieOK},
		{"at ttl", t0.Add(30 * time.Second), cliMAC, []uint16{1, 2}, "eth0", CookieOK},
		{"after ttl", t0.Add(31 * time.Second), cliMAC, []uint16{1, 2}, "eth0", CookieExpired},
		{"skew allowed", t0.Add(-2 * time.Second), cliMAC, []uint16{1, 2}, "eth0", CookieOK},
		{"future", t0.Add(-3 * time.Second), cliMAC, []uint16{1, 2}, "eth0", CookieExpired},
		{"mac", t0, cliMAC2, []uint16{1, 2}, "eth0", CookieBad},
		{"inner vlan", t0, cliMAC, []uint16{1, 3}, "eth0", CookieBad},
		{"tag count", t0, cliMAC, []uint16{1}, "eth0", CookieBad},
		{"port", t0, cliMAC, []uint16{1, 2}, "eth1", CookieBad},
	}
	for _, tt := range tests {
		if got := k.Verify(c, tt.now, tt.mac, tt.vlans, tt.port); got != tt.want {
			t.Errorf("%s: Verify = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := k.Verify(c[:CookieLen-1], t0, cliMAC, []uint16{1, 2}, "eth0"); got != CookieBad {
		t.Errorf("short cookie: %v", got)
	}
}

func TestCookieAllocs(t *testing.T) {
	k := NewCookieKey([]byte("0123456789abcdef"), 0)
	buf := make([]byte, 0, 64)
	vlans := []uint16{1, 2}
	n := testing.AllocsPerRun(100, func() {
		c := k.Append(buf[:0], t0, cliMAC, vlans, "eth0")
		if k.Verify(c, t0, cliMAC, vlans, "eth0") != CookieOK {
			t.Fatal("verify failed")
		}
	})
	if n != 0 {
		t.Fatalf("cookie Append+Verify allocates %v times", n)
	}
}

func FuzzCookieVerify(f *testing.F) {
	k := NewCookieKey([]byte("0123456789abcdef"), 0)
	f.Add(k.Append(nil, t0, cliMAC, nil, "eth0"), int64(0), "eth0")
	f.Add([]byte{1, 2, 3}, int64(5), "")
	f.Fuzz(func(t *testing.T, cookie []byte, dt int64, port string) {
		r := k.Verify(cookie, t0.Add(time.Duration(dt)), cliMAC, nil, port)
		if r == CookieOK {
			// Only a cookie we made can verify.
			want := k.Append(nil, time.Unix(int64(binary.BigEndian.Uint32(cookie)), 0), cliMAC, nil, port)
			if string(want) != string(cookie) {
				t.Fatalf("forged cookie %x accepted", cookie)
			}
		}
	})
}
