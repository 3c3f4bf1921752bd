// Package device is the Smart X device side of smartx: the validation of a device's network
// settings, the provisioning bundle an installer writes on site, and a faithful software Smart X
// (Simulator) with its durable spool and its uploader.
//
// The simulator behaves as the device does: it measures (the synthetic load curves of
// internal/readings), writes one encrypted data file per period into a spool directory, keeps
// about a month of files while the connection is down, and sends them oldest first over HTTPS
// to the platform, deleting a file only once the platform acknowledged it. Everything it needs
// to resume after a crash is on disk (spool.go describes the layout and the write order), and
// an upload is idempotent (the platform deduplicates by sequence number), so killing the
// simulator or the server at any instant loses nothing and stores nothing twice.
//
// IPv4 only: Smart X devices live on IPv4 site networks, so network settings reject IPv6
// addresses with a message saying so, rather than half-supporting them.
//
// The package prints nothing: progress is reported through Stats snapshots and an event
// callback, which the CLI renders.
package device
