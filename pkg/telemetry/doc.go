// Package telemetry publishes live session telemetry over MQTT and
// Prometheus.
//
// It embeds a mochi-mqtt broker (TCP, optional TLS and WebSocket listeners)
// and implements session.Observer: session events are queued without
// blocking and one goroutine turns them into retained per-user state,
// events and usage counters under
//
//	<prefix>/<nas>/session/<user>/state   retained JSON, online or offline
//	<prefix>/<nas>/session/<user>/event   start, stop, auth-fail, rates
//	<prefix>/<nas>/session/<user>/usage   64-bit counters on every interim
//
// Customers log in to the broker with their PPP username and password
// (checked through aaa.Authenticator, with a short positive cache and a
// failure rate limit) and may read only their own subtree; operator accounts
// read everything. The retained state is kept in a bbolt file so that it
// survives a restart, and Reconcile corrects it after start-up.
//
// An optional bridge forwards the telemetry subtree to an upstream broker
// with QoS 1 through a bounded on-disk queue.
//
// The payloads and topics are documented in docs/telemetry.md.
//
// Not supported: the quality topic (LCP echo statistics), MQTT commands.
package telemetry
