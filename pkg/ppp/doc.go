// Package ppp is the Point-to-Point Protocol control plane as sans-I/O
// values: the RFC 1661 option-negotiation automaton shared by LCP, IPCP and
// IPv6CP, LCP echo keepalives, PAP and CHAP-MD5 authentication, IPCP
// addresses and DNS, and IPv6CP interface identifiers, in the server
// (access concentrator / LNS) and the client (subscriber) role.
//
// A Link is one PPP conversation. The owner (one goroutine) feeds it frames
// (Input), timer expiries (Tick, when NextDeadline has passed), AAA replies
// (AuthResult) and admin commands (Close, LowerDown). Every call takes the
// current time and returns the effects the owner must perform, in order:
// frames to send, an authentication request to decide, network protocols
// that came up or went down, and the end of the link. A Link starts no
// goroutine, reads no clock, does no I/O and logs nothing.
//
// OpenProxy starts a Link from the state an L2TP LAC already negotiated
// (proxy LCP and proxy authentication, RFC 2661 §4.4.5): LCP Opened and the
// credentials handed to the owner at once, in either role.
//
// Packets carry the PPP protocol number and the PPP packet; address/control
// bytes (FF 03) and the PPPoE/L2TP headers are the owner's business.
//
// RFCs covered:
//   - RFC 1661 (PPP, LCP, the option-negotiation automaton, echo, discard)
//   - RFC 1334 §2 (PAP), RFC 1994 (CHAP with MD5)
//   - RFC 1332 (IPCP) and RFC 1877 (DNS server addresses, options 129/131)
//   - RFC 5072 (IPv6CP, Interface-Identifier)
//   - RFC 4638 (MRU above 1492 when the PPPoE peer offers PPP-Max-Payload)
//
// Not supported: ACCM, PFC, ACFC, Quality-Protocol, callback, multilink,
// compression (VJ, CCP), MS-CHAP and EAP (all Configure-Rejected or
// Protocol-Rejected); authenticating ourselves to a server in the server
// role; NBNS addresses (RFC 1877 130/132 are rejected).
package ppp
