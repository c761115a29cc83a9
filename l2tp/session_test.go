package l2tp

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func upLink(t *testing.T, secret string) *link {
	t.Helper()
	cfg := TunnelConfig{}
	if secret != "" {
		cfg.Secret = []byte(secret)
		cfg.HideAVPs = true
	}
	l := newLink(t, cfg, cfg)
	l.open()
	if l.lns.State() != TunnelEstablished {
		t.Fatalf("tunnel %s", l.lns.State())
	}
	l.lacEv, l.lnsEv = nil, nil
	return l
}

func (l *link) call(p CallParams) uint16 {
	l.t.Helper()
	sid, e, err := l.lac.Call(l.now, p)
	if err != nil {
		l.t.Fatal(err)
	}
	l.run(l.lac, e)
	return sid
}

func TestSessionIncomingCall(t *testing.T) {
	proxy := &ProxyInfo{
		InitialReceivedConfReq: []byte{1, 4, 5, 0xdc},
		LastSentConfReq:        []byte{3, 4, 0xc0, 0x23},
		LastReceivedConfReq:    []byte{1, 4, 5, 0xdc},
		AuthenType:             ProxyAuthenPAP,
		AuthenName:             "bob@isp",
		AuthenID:               7,
		AuthenResponse:         []byte("hello"),
	}
	l := upLink(t, "sec")
	lacSID := l.call(CallParams{CallingNumber: "00:11:22:33:44:55", CalledNumber: "lns1", SequencingRequired: true, Proxy: proxy})
	if len(l.lnsEv) != 1 || l.lnsEv[0].Kind != EventCallUp || len(l.lacEv) != 1 || l.lacEv[0].Kind != EventCallUp {
		t.Fatalf("events %v / %v", kinds(l.lacEv), kinds(l.lnsEv))
	}
	ci := l.lnsEv[0].Call
	if ci.PeerSessionID != lacSID || ci.SessionID != l.lnsEv[0].SessionID || ci.TunnelID != 200 || ci.PeerTunnelID != 100 {
		t.Fatalf("ids %+v", ci)
	}
	if ci.CallingNumber != "00:11:22:33:44:55" || ci.CalledNumber != "lns1" || !ci.SequencingRequired || ci.TxConnectSpeed != 10_000_000 || ci.FramingType != FramingSync {
		t.Fatalf("call info %+v", ci)
	}
	p := ci.Proxy
	if p == nil || p.AuthenType != ProxyAuthenPAP || p.AuthenName != "bob@isp" || p.AuthenID != 7 ||
		!bytes.Equal(p.AuthenResponse, []byte("hello")) || !bytes.Equal(p.LastSentConfReq, proxy.LastSentConfReq) {
		t.Fatalf("proxy %+v", p)
	}
	if lacInfo := l.lacEv[0].Call; lacInfo.PeerSessionID != ci.SessionID {
		t.Fatalf("LAC peer session %d, want %d", lacInfo.PeerSessionID, ci.SessionID)
	}
	_, st, _ := l.lns.CallState(ci.SessionID)
	if st != SessionEstablished {
		t.Fatalf("lns session state %v", st)
	}
}

func TestSessionCDN(t *testing.T) {
	for _, closer := range []string{"lac", "lns"} {
		t.Run(closer, func(t *testing.T) {
			l := upLink(t, "")
			lacSID := l.call(CallParams{})
			lnsSID := l.lnsEv[0].SessionID
			l.lacEv, l.lnsEv = nil, nil
			from, sid, peerEv := l.lac, lacSID, &l.lnsEv
			if closer == "lns" {
				from, sid, peerEv = l.lns, lnsSID, &l.lacEv
			}
			want := Result{Code: CDNAdmin, Message: "admin"}
			e, err := from.CloseCall(l.now, sid, want)
			if err != nil {
				t.Fatal(err)
			}
			l.run(from, e)
			ev := *peerEv
			if len(ev) != 1 || ev[0].Kind != EventCallDown || ev[0].Result != want {
				t.Fatalf("peer events %+v", ev)
			}
			if l.lac.Calls() != 0 || l.lns.Calls() != 0 {
				t.Fatalf("calls left: %d %d", l.lac.Calls(), l.lns.Calls())
			}
			if l.lns.State() != TunnelEstablished {
				t.Fatal("CDN closed the tunnel")
			}
			if _, err := from.CloseCall(l.now, sid, want); !errors.Is(err, ErrBadTransition) {
				t.Fatalf("second close: %v", err)
			}
		})
	}
}

func TestSessionTunnelDownClosesCalls(t *testing.T) {
	l := upLink(t, "")
	for range 3 {
		l.call(CallParams{})
	}
	l.lacEv, l.lnsEv = nil, nil
	l.run(l.lac, l.lac.Close(l.now, Result{Code: StopShuttingDown}))
	n := 0
	for _, e := range l.lnsEv {
		if e.Kind == EventCallDown {
			n++
		}
	}
	if n != 3 || l.lnsEv[len(l.lnsEv)-1].Kind != EventTunnelDown {
		t.Fatalf("lns events %v", kinds(l.lnsEv))
	}
}

func TestSessionFSMErrors(t *testing.T) {
	l := upLink(t, "")
	// ICCN for a session that does not exist.
	iccn := NewMessage(MsgICCN).AddUint32(AVPTxConnectSpeed, 1).AddUint32(AVPFramingType, 1)
	h := rx(l.lns.ch.Nr(), 1)
	h.SessionID = 999
	if _, err := l.lns.Receive(l.now, h, iccn.Append(nil, nil)); !errors.Is(err, ErrBadTransition) {
		t.Fatalf("stray ICCN: %v", err)
	}
	// ICRQ with an unknown mandatory AVP: refused with CDN 2/8, tunnel stays.
	icrq := NewMessage(MsgICRQ).AddUint16(AVPAssignedSessionID, 44).AddUint32(AVPCallSerialNumber, 1)
	icrq.AVPs = append(icrq.AVPs, AVP{Mandatory: true, Vendor: 9, Type: 9})
	e, err := l.lns.Receive(l.now, rx(l.lns.ch.Nr(), 1), icrq.Append(nil, nil))
	if !errors.Is(err, ErrMandatory) {
		t.Fatalf("err %v", err)
	}
	cdn := findMsg(t, e.Send, MsgCDN)
	if r, _ := cdn.Result(); r.Code != CDNGeneralError || r.Error != ErrCodeUnknownMandatory {
		t.Fatalf("CDN result %+v", r)
	}
	if hh, _, _ := ParseHeader(e.Send[len(e.Send)-1]); hh.SessionID != 44 {
		t.Fatalf("CDN to session %d, want 44", hh.SessionID)
	}
	if l.lns.State() != TunnelEstablished || l.lns.Calls() != 0 {
		t.Fatalf("state %s calls %d", l.lns.State(), l.lns.Calls())
	}
	// A LNS does not place calls.
	if _, _, err := l.lns.Call(l.now, CallParams{}); !errors.Is(err, ErrBadTransition) {
		t.Fatalf("LNS Call: %v", err)
	}
}

func TestSessionCDNBeforeICRP(t *testing.T) {
	l := upLink(t, "")
	// The LAC sends ICRQ, then clears the call before it sees our ICRP: its
	// CDN carries session ID 0 in the header.
	icrq := NewMessage(MsgICRQ).AddUint16(AVPAssignedSessionID, 55).AddUint32(AVPCallSerialNumber, 1)
	if _, err := l.lns.Receive(l.now, rx(l.lns.ch.Nr(), 1), icrq.Append(nil, nil)); err != nil {
		t.Fatal(err)
	}
	if l.lns.Calls() != 1 {
		t.Fatalf("calls %d", l.lns.Calls())
	}
	cdn := NewMessage(MsgCDN).Add(AVPResultCode, Result{Code: CDNAdmin}.Append(nil)).AddUint16(AVPAssignedSessionID, 55)
	e, err := l.lns.Receive(l.now, rx(l.lns.ch.Nr(), 1), cdn.Append(nil, nil))
	if err != nil || l.lns.Calls() != 0 {
		t.Fatalf("err %v calls %d", err, l.lns.Calls())
	}
	if len(e.Events) != 1 || e.Events[0].Kind != EventCallFailed || e.Events[0].Result.Code != CDNAdmin {
		t.Fatalf("events %+v, want one call-failed", e.Events)
	}
}

func TestSessionSetupTimeout(t *testing.T) {
	l := upLink(t, "")
	l.call(CallParams{}) // established: not subject to the timeout
	icrq := NewMessage(MsgICRQ).AddUint16(AVPAssignedSessionID, 66).AddUint32(AVPCallSerialNumber, 1)
	if _, err := l.lns.Receive(l.now, rx(l.lns.ch.Nr(), l.lns.ch.ns), icrq.Append(nil, nil)); err != nil {
		t.Fatal(err)
	}
	want := l.now.Add(30 * time.Second)
	if d := l.lns.Deadline(); d.After(want) {
		t.Fatalf("deadline %v, want by %v", d.Sub(t0), want.Sub(t0))
	}
	if e := l.lns.Tick(want.Add(-time.Millisecond)); l.lns.Calls() != 2 || len(e.Events) != 0 {
		t.Fatal("call cleared early")
	}
	e := l.lns.Tick(want)
	if l.lns.Calls() != 1 || len(e.Events) != 1 || e.Events[0].Kind != EventCallFailed {
		t.Fatalf("unconnected call not cleared: %+v", e.Events)
	}
	if r, _ := findMsg(t, e.Send, MsgCDN).Result(); r.Code != CDNTimeout {
		t.Fatalf("CDN result %+v", r)
	}
}
