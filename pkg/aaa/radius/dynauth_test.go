package radius

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/session"
)

// daRequest encodes a CoA/Disconnect request as a DA client would (RFC
// 5176 §2.3, §3.3): Message-Authenticator over a zero authenticator, then
// the Request Authenticator.
func daRequest(t *testing.T, code radius.Code, id byte, secret string, withMA bool, attrs ...*radius.AVP) []byte {
	t.Helper()
	p := &radius.Packet{Code: code, Identifier: id}
	if withMA {
		p.Add(attrMessageAuthenticator, make([]byte, 16))
	}
	p.Attributes = append(p.Attributes, attrs...)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var zero [16]byte
	if withMA {
		if err := signMessageAuthenticator(b, []byte(secret), &zero); err != nil {
			t.Fatal(err)
		}
	}
	responseAuthenticator(b, []byte(secret), &zero)
	return b
}

func newTestDA(t *testing.T, cfg DAConfig) (*DAServer, *fakeAPI) {
	t.Helper()
	api := &fakeAPI{sessions: []session.Info{{ID: "00000001DEADBEEF", User: "alice", IP: netip.MustParseAddr("10.0.0.5")}}}
	in, err := NewInterpreter(NewDictionary(), RateConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Clients = []DAClient{{Address: netip.MustParseAddr("127.0.0.1"), Secret: "coasecret"}}
	d, err := NewDAServer(cfg, api, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, api
}

var daSrc = netip.MustParseAddrPort("127.0.0.1:40000")

func TestDAHandle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := radius.NewInteger(uint32(now.Unix()))
	user := avp(attrUserName, []byte("alice"))
	tests := []struct {
		name      string
		cfg       DAConfig
		req       func(t *testing.T) []byte
		wantCode  radius.Code // 0: dropped
		wantCause ErrorCause
		wantCall  string
		wantCount string
	}{
		{
			name: "disconnect ack with proxy-state",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeDisconnectRequest, 1, "coasecret", true, user, avp(attrProxyState, []byte("ps1")), avp(attrEventTimestamp, ts))
			},
			wantCode: radius.CodeDisconnectACK, wantCall: "terminate username=alice hard=false n=1", wantCount: "ack",
		},
		{
			name: "coa bad rate value",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 2, "coasecret", true, user, mustVSA(t, VendorMikrotik, 8, []byte("fast")))
			},
			wantCode: radius.CodeCoANAK, wantCause: CauseInvalidAttrValue,
		},
		{
			name: "coa session and idle timeout, interim, filter-id, rates in one change",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 20, "coasecret", true, user,
					avp(attrSessionTimeout, radius.NewInteger(600)), avp(attrIdleTimeout, radius.NewInteger(120)),
					avp(attrAcctInterimInterval, radius.NewInteger(300)), avp(attrFilterID, []byte("gold")),
					mustVSA(t, VendorMikrotik, 8, []byte("1M/2M")))
			},
			wantCode: radius.CodeCoAACK,
			wantCall: `change username=alice rates=2M/1M session-timeout=10m0s idle-timeout=2m0s interim=5m0s filter-id="gold" coa n=1`,
		},
		{
			name: "coa session-timeout 0 lifts the limit",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 21, "coasecret", true, user, avp(attrSessionTimeout, radius.NewInteger(0)))
			},
			wantCode: radius.CodeCoAACK, wantCall: "change username=alice session-timeout=0s coa n=1",
		},
		{
			name: "coa interim below 60 s: nothing applied",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 22, "coasecret", true, user,
					avp(attrSessionTimeout, radius.NewInteger(600)), avp(attrAcctInterimInterval, radius.NewInteger(10)))
			},
			wantCode: radius.CodeCoANAK, wantCause: CauseInvalidAttrValue,
		},
		{
			name: "coa with an attribute we cannot apply: nothing applied",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 23, "coasecret", true, user,
					avp(attrSessionTimeout, radius.NewInteger(600)), avp(attrFramedIPAddress, []byte{10, 0, 0, 9}), avp(attrFramedPool, []byte("p")))
			},
			wantCode: radius.CodeCoANAK, wantCause: CauseUnsupportedAttribute,
		},
		{
			name: "coa without rates",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 3, "coasecret", true, user)
			},
			wantCode: radius.CodeCoANAK, wantCause: CauseInvalidRequest,
		},
		{
			name: "service-type authorize-only",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeCoARequest, 4, "coasecret", true, user, avp(attrServiceType, radius.NewInteger(17)))
			},
			wantCode: radius.CodeCoANAK, wantCause: CauseUnsupportedService,
		},
		{
			name: "bad message authenticator",
			req: func(t *testing.T) []byte {
				b := daRequest(t, radius.CodeDisconnectRequest, 5, "coasecret", true, user)
				b[22] ^= 1
				var zero [16]byte
				responseAuthenticator(b, []byte("coasecret"), &zero)
				return b
			},
			wantCount: "drop_bad_message_authenticator",
		},
		{
			name: "message authenticator required",
			cfg:  DAConfig{RequireMessageAuthenticator: true},
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeDisconnectRequest, 6, "coasecret", false, user)
			},
			wantCount: "drop_no_message_authenticator",
		},
		{
			name: "event timestamp required",
			cfg:  DAConfig{RequireEventTimestamp: true},
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeDisconnectRequest, 7, "coasecret", true, user)
			},
			wantCount: "drop_no_event_timestamp",
		},
		{
			name: "future event timestamp",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeDisconnectRequest, 8, "coasecret", true, user, avp(attrEventTimestamp, radius.NewInteger(uint32(now.Unix()+3600))))
			},
			wantCount: "drop_stale_event_timestamp",
		},
		{
			name: "access-request is not ours",
			req: func(t *testing.T) []byte {
				return daRequest(t, radius.CodeAccessRequest, 9, "coasecret", true, user)
			},
			wantCount: "drop_unknown_code",
		},
		{
			name:      "garbage",
			req:       func(t *testing.T) []byte { return []byte{40, 1, 0} },
			wantCount: "drop_malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, api := newTestDA(t, tt.cfg)
			req := tt.req(t)
			got := d.handle(req, daSrc, now)
			if tt.wantCount != "" && d.Counters()[tt.wantCount] != 1 {
				t.Errorf("counter %s: %v", tt.wantCount, d.Counters())
			}
			calls := api.Calls()
			if tt.wantCall == "" && len(calls) > 0 || tt.wantCall != "" && (len(calls) != 1 || calls[0] != tt.wantCall) {
				t.Errorf("calls %q, want %q", calls, tt.wantCall)
			}
			if tt.wantCode == 0 {
				if got != nil {
					t.Fatalf("want drop, got reply % x", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no reply; counters %v", d.Counters())
			}
			reqAuth := [16]byte(req[4:20])
			if err := verifyResponse(got, []byte("coasecret"), &reqAuth, true); err != nil {
				t.Fatalf("reply does not verify: %v", err)
			}
			p, err := radius.Parse(got, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Code != tt.wantCode || p.Identifier != req[1] {
				t.Errorf("reply %v id %d, want %v id %d", p.Code, p.Identifier, tt.wantCode, req[1])
			}
			cause, _ := integer(p.Get(attrErrorCause))
			if ErrorCause(cause) != tt.wantCause {
				t.Errorf("Error-Cause %d, want %d", cause, tt.wantCause)
			}
			if ps := p.Get(attrProxyState); bytes.Contains(req, []byte("ps1")) != (string(ps) == "ps1") {
				t.Errorf("Proxy-State %q not echoed", ps)
			}
		})
	}
}

// TestDARetransmission: the same request again gets the same answer and is
// not acted on twice.
func TestDARetransmission(t *testing.T) {
	d, api := newTestDA(t, DAConfig{})
	now := time.Unix(1_800_000_000, 0)
	req := daRequest(t, radius.CodeDisconnectRequest, 1, "coasecret", true, avp(attrAcctSessionID, []byte("00000001DEADBEEF")))
	first := d.handle(req, daSrc, now)
	second := d.handle(req, daSrc, now.Add(time.Second))
	if first == nil || !bytes.Equal(first, second) {
		t.Fatalf("replies differ:\n% x\n% x", first, second)
	}
	if calls := api.Calls(); len(calls) != 1 {
		t.Errorf("acted %d times: %q", len(calls), calls)
	}
	if d.Counters()["duplicate"] != 1 {
		t.Errorf("counters %v", d.Counters())
	}
}

// FuzzDAHandle signs arbitrary attribute lists as a configured client would
// (so they pass authentication) and hands them to the DA server: it must
// never panic and must answer with a verifiable reply or drop.
func FuzzDAHandle(f *testing.F) {
	f.Add(byte(40), []byte{1, 7, 'a', 'l', 'i', 'c', 'e'})
	f.Add(byte(43), []byte{1, 7, 'a', 'l', 'i', 'c', 'e', 26, 13, 0, 0, 0x3a, 0x8c, 8, 7, '1', 'M', '/', '2', 'M'})
	f.Add(byte(43), []byte{80, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	in, err := NewInterpreter(NewDictionary(), RateConfig{FilterID: "down/up"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	api := &fakeAPI{sessions: []session.Info{{ID: "00000001DEADBEEF", User: "alice", IP: netip.MustParseAddr("10.0.0.5")}}}
	f.Fuzz(func(t *testing.T, code byte, attrs []byte) {
		if len(attrs) > 4000 {
			return
		}
		d := &DAServer{
			cfg: DAConfig{ReplayWindow: time.Minute}, api: api, in: in, log: in.log,
			clients: map[netip.Addr][]byte{daSrc.Addr(): []byte("coasecret")}, cache: map[daKey]daCached{},
		}
		b := make([]byte, 20+len(attrs))
		b[0], b[1] = code, 1
		b[2], b[3] = byte(len(b)>>8), byte(len(b))
		copy(b[20:], attrs)
		var zero [16]byte
		if off, err := findMessageAuthenticator(b); err == nil && off > 0 {
			_ = signMessageAuthenticator(b, []byte("coasecret"), &zero)
		}
		responseAuthenticator(b, []byte("coasecret"), &zero)
		got := d.handle(b, daSrc, time.Now())
		if got == nil {
			return
		}
		reqAuth := [16]byte(b[4:20])
		if err := verifyResponse(got, []byte("coasecret"), &reqAuth, true); err != nil {
			t.Fatalf("reply does not verify: %v", err)
		}
	})
}
