// Package preflighttest provides loopback fixtures for testing preflight
// checks without the Internet: a DNS responder, TLS servers (good, expired,
// wrong host, intercepting CA, TLS 1.1 only, stalled, resetting, plain HTTP),
// HTTP health and portal servers, a CONNECT proxy, an NTP responder and plain
// TCP listeners. Everything listens on 127.0.0.1 port 0 and only ever dials
// 127.0.0.1.
//
// Every fixture has a Close method and can delay or hold (gate) its answers,
// so tests can prove concurrency by structure rather than by timing.
//
// The package deliberately does not import preflight, so preflight's own
// tests can use it.
package preflighttest

// Host is the platform name the fixtures serve certificates and DNS
// answers for.
const Host = "platform.test"

// Loopback is the only address fixtures listen on and dial.
const Loopback = "127.0.0.1"
