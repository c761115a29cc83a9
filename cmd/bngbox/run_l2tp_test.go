package main

import (
	"bytes"
	"testing"

	"github.com/bngbox/bngbox/l2tp"
	"github.com/bngbox/bngbox/pkg/ppp"
)

func TestLNSProxy(t *testing.T) {
	lcpLAC, lcpSub := []byte{1, 4, 5, 0xd4}, []byte{5, 6, 1, 2, 3, 4}
	chap := &l2tp.ProxyInfo{LastSentConfReq: lcpLAC, LastReceivedConfReq: lcpSub, AuthenType: l2tp.ProxyAuthenCHAP,
		AuthenName: "alice", AuthenID: 9, AuthenChallenge: []byte("c"), AuthenResponse: []byte("r")}
	pap := &l2tp.ProxyInfo{LastSentConfReq: lcpLAC, LastReceivedConfReq: lcpSub, AuthenType: l2tp.ProxyAuthenPAP,
		AuthenName: "bob", AuthenID: 2, AuthenResponse: []byte("pw")}
	noLCP := *pap
	noLCP.LastReceivedConfReq = nil
	mschap := *chap
	mschap.AuthenType = l2tp.ProxyAuthenMSCHAP

	on := &lnsRunner{acceptProxy: true}
	if got := on.proxy(chap); got == nil || got.Auth.Method != ppp.AuthCHAP || got.Auth.User != "alice" || got.Auth.ChapID != 9 ||
		!bytes.Equal(got.Auth.Challenge, []byte("c")) || !bytes.Equal(got.Auth.Response, []byte("r")) ||
		!bytes.Equal(got.LocalOptions, lcpLAC) || !bytes.Equal(got.PeerOptions, lcpSub) {
		t.Errorf("CHAP: %+v", got)
	}
	if got := on.proxy(pap); got == nil || got.Auth.Method != ppp.AuthPAP || got.Auth.User != "bob" || got.Auth.Password != "pw" || got.Auth.ChapID != 2 {
		t.Errorf("PAP: %+v", got)
	}
	for name, p := range map[string]*l2tp.ProxyInfo{"none": nil, "no LCP": &noLCP, "MS-CHAP": &mschap} {
		if got := on.proxy(p); got != nil {
			t.Errorf("%s: %+v, want nil (renegotiate)", name, got)
		}
	}
	if got := (&lnsRunner{}).proxy(chap); got != nil {
		t.Errorf("proxy-auth renegotiate: %+v, want nil", got)
	}
}
