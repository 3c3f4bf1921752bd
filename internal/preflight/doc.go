// Package preflight measures whether a site's network lets a Smart X
// energy-metering device reach everything it needs (DNS, ICMP, the platform
// over HTTPS with TLS 1.2, NTP, and for legacy devices plain HTTP), and turns
// the measurements into a report for the customer's IT department.
//
// The package returns data only: Run produces a Report made of Results (the
// JSON contract documented on Result and in docs/preflight-checks.md), and
// WriteMarkdown / WriteHTML render the IT documents. Terminal rendering and
// the command line live elsewhere.
//
// Every network operation is bounded by the per-check timeout and by the
// context given to Run, and every name is resolved through one resolver
// (the --dns-server when given, else the system's), so what is measured is
// what the device would see on the same network.
package preflight
