package pppoe_test

import (
	"fmt"
	"net"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
	"github.com/bngbox/bngbox/pppoe"
)

// A subscriber on QinQ 100.200 runs discovery against a server.
func Example() {
	srv, err := pppoe.New(pppoe.Config{
		ACName:             "bng1",
		ServiceNames:       []string{"internet"},
		AcceptEmptyService: true,
		MaxPerMAC:          1,
	})
	if err != nil {
		panic(err)
	}
	portMAC := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

	// Client: PADI.
	var eh ether.Header
	eh.Dst, eh.Src = pppoe.Broadcast, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	_ = eh.SetVLANs([]uint16{100, 200})
	padi := pppoe.Packet{Code: pppoe.CodePADI}
	padi.Add(pppoe.TagServiceName, nil)
	padi.Add(pppoe.TagHostUniq, []byte{1, 2, 3, 4})
	reply, _ := srv.Handle(now, "eth1", portMAC, pppoe.AppendFrame(nil, eh, &padi))

	// Client: PADO → PADR.
	reh, pado, _ := pppoe.ParseFrame(reply)
	ac, _ := pado.ACName()
	fmt.Println(pado.Code, ac, reh.VLANs())
	eh.Dst = reh.Src
	padr := pppoe.Packet{Code: pppoe.CodePADR}
	padr.Add(pppoe.TagServiceName, nil)
	padr.Add(pppoe.TagHostUniq, []byte{1, 2, 3, 4})
	padr.Add(pppoe.TagACCookie, pado.Cookie())
	reply, ev := srv.Handle(now, "eth1", portMAC, pppoe.AppendFrame(nil, eh, &padr))

	_, pads, _ := pppoe.ParseFrame(reply)
	ns := ev.(*pppoe.NewSession)
	fmt.Println(pads.Code, pads.SessionID, ns.Port, ns.Peer, ns.VLANs, ns.SessionID)

	// The owner ends the session: PADT to the peer, then Release.
	padt := srv.PADT(ns.Port, portMAC, ns.Peer, ns.VLANs, ns.SessionID, "bye")
	_, p, _ := pppoe.ParseFrame(padt)
	fmt.Println(p.Code, p.SessionID, srv.Release(ns.Port, ns.SessionID), srv.Sessions())
	// Output:
	// PADO bng1 [100 200]
	// PADS 1 eth1 02:00:00:00:00:02 [100 200] 1
	// PADT 1 true 0
}
