package aaa

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

func TestLocalPAPAndCHAP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.yaml")
	os.WriteFile(path, []byte("users:\n  - {name: alice, password: s3cret, rates: 10M/5M, ip: 100.64.9.9}\n"), 0o600)
	l, err := NewLocal(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := l.Authenticate(ctx, &Request{User: "alice", Method: PAP, Password: "s3cret"})
	if err != nil || r.Rates.Down != 10e6 || r.FramedIP.String() != "100.64.9.9" {
		t.Fatalf("PAP: %+v %v", r, err)
	}
	var rej *Reject
	if _, err := l.Authenticate(ctx, &Request{User: "alice", Method: PAP, Password: "wrong"}); !errors.As(err, &rej) {
		t.Fatalf("wrong PAP password: %v", err)
	}
	ch := []byte("0123456789abcdef")
	resp := CHAPResponse(7, "s3cret", ch)
	if _, err := l.Authenticate(ctx, &Request{User: "alice", Method: CHAP, ChapID: 7, Challenge: ch, Response: resp[:]}); err != nil {
		t.Fatalf("CHAP: %v", err)
	}
	if _, err := l.Authenticate(ctx, &Request{User: "alice", Method: CHAP, ChapID: 8, Challenge: ch, Response: resp[:]}); !errors.As(err, &rej) {
		t.Fatalf("CHAP with wrong id accepted: %v", err)
	}
	if _, err := l.Authenticate(ctx, &Request{User: "nobody", Method: PAP, Password: "s3cret"}); !errors.As(err, &rej) {
		t.Fatalf("unknown user: %v", err)
	}
	// Reload with a broken file keeps the old table.
	os.WriteFile(path, []byte("users:\n  - {name: alice, pasword: x}\n"), 0o600)
	if err := l.Reload(); err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Fatalf("reload of bad file: %v", err)
	}
	if l.Len() != 1 {
		t.Fatal("old table lost")
	}
}

func TestCHAPVectorRFC1994(t *testing.T) {
	// MD5(0x01 || "secret" || 16 zero bytes), computed independently with
	// `printf '\x01secret' | cat - <(head -c16 /dev/zero) | md5sum`.
	got := CHAPResponse(1, "secret", make([]byte, 16))
	if want := "7570c653cdf4755ccffcaa80f29268d1"; hexs(got[:]) != want {
		t.Errorf("CHAP response %s, want %s", hexs(got[:]), want)
	}
}

func hexs(b []byte) string {
	const d = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, d[c>>4], d[c&15])
	}
	return string(s)
}

func TestFileAccounter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acct.jsonl")
	a, err := NewFileAccounter(path)
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{SessionID: "0000000000000001", User: "alice"}
	a.Account(&AcctRecord{Type: AcctStart, Time: time.Unix(100, 0), Request: req})
	a.Account(&AcctRecord{Type: AcctStop, Time: time.Unix(160, 0), Request: req, SessionTime: time.Minute,
		Stats: dataplane.Stats{RxBytes: 5 << 30, TxBytes: 7}, Cause: CauseAdminReset})
	a.Close()
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var stop FileRecord
	json.Unmarshal([]byte(lines[1]), &stop)
	if stop.Type != "stop" || stop.Cause != "Admin-Reset" || stop.InOctets != 5<<30 || stop.SessionTime != 60 {
		t.Errorf("stop record %+v", stop)
	}
}
