package ppp_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/bngbox/bngbox/pkg/ppp"
)

// Example wires a server and a client Link back to back: the loop below
// is what a session goroutine (server) and the loadgen (client) each do
// with their half, with frames going over PPPoE instead of a slice.
func Example() {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	server := ppp.New(&ppp.Config{
		Role: ppp.RoleServer, Auth: ppp.AuthCHAP,
		LocalIP: netip.MustParseAddr("10.0.0.1"), EchoInterval: 30 * time.Second,
	})
	client := ppp.New(&ppp.Config{
		Role: ppp.RoleClient, Auth: ppp.AuthPAP | ppp.AuthCHAP,
		Username: "alice", Password: "s3cret",
	})
	server.SetPeerMaxPayload(0) // RFC 4638 tag from PADI, if any

	type frame struct {
		proto uint16
		data  []byte
	}
	var toServer, toClient []frame
	// perform is the owner's effect loop. It consumes every effect before
	// calling into the Link again (Data is reused by the next call).
	var perform func(name string, l *ppp.Link, fx []ppp.Effect)
	perform = func(name string, l *ppp.Link, fx []ppp.Effect) {
		var auth *ppp.AuthRequest
		for _, e := range fx {
			switch e.Kind {
			case ppp.EffectSend:
				f := frame{e.Proto, bytes.Clone(e.Data)}
				if l == server {
					toClient = append(toClient, f)
				} else {
					toServer = append(toServer, f)
				}
			case ppp.EffectAuthRequest:
				auth = e.Auth // ask AAA; in a session, the reply comes back later
			case ppp.EffectUp:
				fmt.Printf("%s: %s up, local %v peer %v\n", name, "IPCP", e.Net.LocalIP, e.Net.PeerIP)
			case ppp.EffectDown:
				fmt.Printf("%s: down: %v\n", name, e.Reason)
			}
		}
		if auth != nil {
			ok := auth.User == "alice"
			np := ppp.NetParams{PeerIP: netip.MustParseAddr("100.64.0.2")}
			perform(name, l, l.AuthResult(now, ok, "welcome", np))
		}
	}
	perform("server", server, server.Open(now))
	perform("client", client, client.Open(now))
	for len(toServer)+len(toClient) > 0 {
		if len(toServer) > 0 {
			f := toServer[0]
			toServer = toServer[1:]
			perform("server", server, server.Input(now, f.proto, f.data))
		}
		if len(toClient) > 0 {
			f := toClient[0]
			toClient = toClient[1:]
			perform("client", client, client.Input(now, f.proto, f.data))
		}
	}
	// The owner's timer: wake at NextDeadline and Tick.
	fmt.Println("next timer in", server.NextDeadline().Sub(now))
	// Output:
	// server: IPCP up, local 10.0.0.1 peer 100.64.0.2
	// client: IPCP up, local 100.64.0.2 peer 10.0.0.1
	// next timer in 30s
}
