// Package radius is bngbox's RADIUS client (authentication and accounting)
// and Dynamic Authorization server, on layeh.com/radius for the packet
// codec with our own transport.
//
// # Client
//
// A Client implements aaa.Authenticator and aaa.Accounter:
//
//   - Servers per role (auth, acct) are tried in priority order, each
//     1+Retries times with Timeout per attempt. A server that does not answer
//     is held down for DeadTime, then tried again. Every attempt is
//     re-encoded with a fresh ID and authenticator (so Acct-Delay-Time is
//     current, RFC 2866 §5.2). At most MaxInFlight requests are outstanding
//     per server; each UDP socket is one 256-ID space and more are opened as
//     needed.
//   - Every Access-Request carries Message-Authenticator as its first
//     attribute (RFC 3579 §3.2), and Access-Accept/Reject/Challenge must
//     carry a valid one (Blast-RADIUS, CVE-2024-3596) unless
//     AllowMissingReplyMessageAuthenticator is set. Replies with a bad
//     Response Authenticator or Message-Authenticator are dropped and counted
//     (mgmt.RADIUSServer.BadAuth).
//   - Access-Accept attributes are interpreted by a table (reply.go):
//     Framed-IP-Address, Framed-Pool, Framed-Route, Session-Timeout,
//     Idle-Timeout, Acct-Interim-Interval, Filter-Id, Class, Reply-Message,
//     MS-Primary/Secondary-DNS-Server (RFC 2548), RP-Upstream/Downstream-
//     Speed-Limit (kbit/s), Mikrotik-Rate-Limit ("rx/tx ...", rx = upload),
//     Filter-Id "down/up" rates if configured, and a configured attr-up /
//     attr-down pair. A bad value is logged and ignored.
//   - Account writes the record to a bbolt spool (grouped fsyncs) before it
//     returns. A sender delivers records in order per session, deletes them
//     when acknowledged and resumes after a restart. When the spool is full
//     Account returns ErrSpoolFull and logs an error: nothing is dropped
//     silently. With KillOnUnackedStart, OnStartUnacked names sessions whose
//     Accounting-Start no server acknowledged.
//
// # Dynamic Authorization (RFC 5176)
//
// A DAServer accepts Disconnect-Request and CoA-Request from configured
// clients only. It checks the Request Authenticator, the
// Message-Authenticator when present (or required), and the Event-Timestamp
// window; a retransmitted request gets the cached answer without being
// acted on twice. Sessions are named by Acct-Session-Id, User-Name,
// Framed-IP-Address, NAS-Port-Id and Calling-Station-Id (all given must
// match). Disconnect calls mgmt.API.Terminate; CoA
// calls mgmt.API.Change (source "coa") with the rates, Session-Timeout
// (from now), Idle-Timeout, Acct-Interim-Interval and Filter-Id it carries,
// applied to each session in one step. NAKs carry Error-Cause.
//
// # Not supported
//
// RADIUS over TCP/TLS (RadSec), Status-Server probing of dead servers,
// Access-Challenge (PPP cannot carry it: treated as a reject), EAP, IPv6
// attributes (Framed-IPv6-Prefix, Delegated-IPv6-Prefix), Mikrotik burst
// fields, vendor dictionaries with format other than 1,1.
package radius
