// Package pppoe implements PPPoE discovery (RFC 2516) for an access
// concentrator: the packet and tag codec, a stateless AC-Cookie, and a
// sans-I/O discovery Server.
//
// # Codec
//
// Parse and ParseHeader decode; Packet.Append encodes into a caller-owned
// buffer. Decoded slices (tag values, payloads) alias the input; copy what
// you keep. Tags are kept in wire order and unknown tags are preserved.
// TagDecoder walks a tag list without allocating.
//
// Tags covered: End-Of-List, Service-Name, AC-Name, Host-Uniq, AC-Cookie,
// Vendor-Specific, Relay-Session-Id, Service-Name-Error, AC-System-Error,
// Generic-Error (RFC 2516 Appendix A) and PPP-Max-Payload (RFC 4638).
//
// # Discovery server
//
// Server answers PADI with PADO and PADR with PADS, and reports PADT from
// peers. It performs no I/O and reads no clock: the owner passes each
// discovery frame (whole Ethernet frame, VLAN tags in-band) with the current
// time to Handle, writes the returned reply on the same port, and acts on the
// returned Event (NewSession, PeerTerminated). When a session ends, the owner
// sends the frame built by Server.PADT (if it terminates the session) and
// calls Release. Server is safe for concurrent use.
//
// # Not supported
//
// The client role is codec only (see pkg/loadgen). Credits (RFC 4938),
// PADM/PADN (RFC 4039) and the TR-101 intermediate-agent tags are passed
// through as unknown tags and not interpreted.
package pppoe
