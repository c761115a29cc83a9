// Package l2tp implements L2TPv2 (RFC 2661) for bngbox: the LNS that
// terminates PPP sessions tunnelled by LACs, and a LAC client side for the
// load generator and tests.
//
// The package has three layers:
//
//   - A pure codec: Header (ParseHeader, Header.Decode, Header.Append),
//     control messages as a Message of AVPs (ParseMessage, Message.Append)
//     with the RFC 2661 §4.4 length rules and the §6 mandatory-AVP table,
//     hidden AVPs (§4.3) and vendor AVPs kept or refused by their M bit;
//     data messages (AppendData, ParsePPP) with or without sequence numbers
//     and with or without the FF 03 address/control bytes.
//   - Sans-I/O automata: Channel (§5.8 reliable delivery: Ns/Nr, windows,
//     retransmission with backoff, ZLB acks, duplicates, reordering) and
//     Tunnel (§7.2 control connection with §5.1.1 challenge authentication,
//     Hello, StopCCN; §7.4 incoming calls ICRQ/ICRP/ICCN/CDN). They take
//     `now`, return Effects (packets, events) and report Deadline; they own
//     no goroutine, timer or socket.
//   - LNS and LAC: one UDP socket each, a reader goroutine that
//     demultiplexes data messages to calls, and one loop goroutine that owns
//     every tunnel. The session layer implements Handler and drives each
//     Call (SendPPP, SetIPWriter, Close). A kernel dataplane that gives
//     each tunnel a socket of its own (Config.ReuseAddr) feeds what the
//     kernel passes up on it to Input.
//
// Not supported: outgoing calls (OCRQ is refused with CDN), L2TPv3, tunnel
// tie-breaking (we never initiate towards an LNS that initiates towards us;
// the Tie Breaker AVP is parsed and ignored), Appendix A slow start and
// congestion avoidance, hiding AVPs other than the proxy authentication
// response on send, hidden AVPs inside SCCRQ (the secret is chosen from
// its Host Name, so they cannot be unhidden), IP fragmentation concerns
// (MTU is the session layer's).
package l2tp
