package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LocalInterface is one of this laptop's network interfaces with its addresses.
type LocalInterface struct {
	// Name is the OS's name of the interface (eth0, en0, Ethernet).
	Name string
	// Prefixes are its addresses with their prefix lengths.
	Prefixes []netip.Prefix
}

// InterfacesFunc lists this laptop's interfaces; tests inject one.
type InterfacesFunc func() ([]LocalInterface, error)

// NeighborFunc asks the link who holds addr (ARP) and returns the hardware address that
// answered, or "" when nobody did before ctx ended. It returns ErrNoNeighborProbe when this
// OS gives no way to ask.
type NeighborFunc func(ctx context.Context, addr netip.Addr) (string, error)

// ErrNoNeighborProbe is returned by a NeighborFunc that cannot ask the link on this OS.
var ErrNoNeighborProbe = errors.New("ARP cannot be read on this OS")

// neighborWait bounds an ARP probe: a host on the link answers within milliseconds, and the
// kernel's second request goes out after a second.
const neighborWait = 1200 * time.Millisecond

// systemInterfaces lists the OS's interfaces that are up, with their addresses.
func systemInterfaces() ([]LocalInterface, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []LocalInterface
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		li := LocalInterface{Name: ifc.Name}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				li.Prefixes = append(li.Prefixes, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()))
			}
		}
		out = append(out, li)
	}
	return out, nil
}

// deviceSegment is where this laptop stands relative to the device's static address.
type deviceSegment struct {
	device  netip.Prefix // the device's address and mask
	gateway netip.Addr   // the device's gateway
	iface   string       // this laptop's interface on the device's network, "" when none
	laptop  netip.Prefix // this laptop's address and mask on it
	others  []string     // this laptop's addresses elsewhere, for the report
}

// onLink reports whether this laptop has an address on the device's network, so probes to
// the device's address and gateway stay on the segment.
func (s deviceSegment) onLink() bool { return s.iface != "" }

// findSegment looks for this laptop's interface holding an address of the device's network.
func findSegment(env *probeEnv) (deviceSegment, error) {
	d := env.cfg.Device
	seg := deviceSegment{device: d.Address, gateway: d.Gateway}
	list := env.cfg.Interfaces
	if list == nil {
		list = systemInterfaces
	}
	ifaces, err := list()
	if err != nil {
		return seg, err
	}
	network := d.Address.Masked()
	for _, ifc := range ifaces {
		for _, p := range ifc.Prefixes {
			if p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() {
				continue
			}
			if p.Addr().Is4() == network.Addr().Is4() && (network.Contains(p.Addr()) || p.Contains(d.Address.Addr())) {
				if seg.iface == "" {
					seg.iface, seg.laptop = ifc.Name, p
				}
				continue
			}
			seg.others = append(seg.others, ifc.Name+" "+p.String())
		}
	}
	return seg, nil
}

// notOnSegment is the skip of the probes when this laptop is elsewhere: nothing is sent off
// the segment.
func notOnSegment(seg deviceSegment) Result {
	var r Result
	r.Status = StatusSkip
	r.Reason = fmt.Sprintf("this laptop is not on the device's network %s: nothing was sent", seg.device.Masked())
	r.Summary = "not run: " + r.Reason
	return r
}

// interfacesError is the result when the OS does not list its interfaces.
func interfacesError(err error) Result {
	var r Result
	r.Status = StatusError
	r.Reason = "cannot list this laptop's network interfaces: " + err.Error()
	r.Summary = r.Reason
	r.Hint = "check this laptop's network connection and run again"
	return r
}

// checkDeviceSubnet compares the device's static address, mask and gateway with this
// laptop's own interface on that network.
func checkDeviceSubnet(_ context.Context, env *probeEnv) Result {
	if !env.cfg.Device.Static() {
		return noStaticAddress()
	}
	seg, err := findSegment(env)
	if err != nil {
		return interfacesError(err)
	}
	var r Result
	d := env.cfg.Device
	network := d.Address.Masked()
	r.setEvidence("device_address", d.Address.String())
	r.setEvidence("device_gateway", d.Gateway.String())
	if !seg.onLink() {
		r.setEvidence("laptop_addresses", strings.Join(seg.others, ", "))
		r.Status = StatusWarn
		if len(seg.others) > 0 {
			r.Summary = fmt.Sprintf("this laptop is not on the device's network %s (its addresses: %s): address, mask and gateway could not be checked",
				network, strings.Join(seg.others, ", "))
		} else {
			r.Summary = fmt.Sprintf("this laptop has no address on the device's network %s: address, mask and gateway could not be checked", network)
		}
		r.Hint = "plug the laptop where the device will be (same switch port or VLAN) and run again"
		return r
	}
	r.setEvidence("interface", seg.iface)
	r.setEvidence("laptop_address", seg.laptop.String())
	// The laptop's gateway on this network, when its default route goes through it.
	var laptopGW, gwIface string
	if route, err := defaultGateway(env.cfg.RouteTablePath); err == nil && route.Gateway.IsValid() {
		laptopGW, gwIface = route.Gateway.String(), route.Iface
	}
	if gwIface == seg.iface && laptopGW != "" {
		r.setEvidence("laptop_gateway", laptopGW)
	}

	var problems []string
	switch {
	case seg.laptop.Addr() == d.Address.Addr():
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("this laptop itself uses %s, the device's address, on %s", d.Address.Addr(), seg.iface)
		r.Hint = "give the laptop another address, or ask IT for another address for the device"
		return r
	case seg.laptop.Bits() != d.Address.Bits():
		problems = append(problems, fmt.Sprintf("the device's mask is /%d (%s), this network's is /%d (%s)",
			d.Address.Bits(), maskText(d.Address.Bits()), seg.laptop.Bits(), maskText(seg.laptop.Bits())))
	}
	if !seg.laptop.Masked().Contains(d.Gateway) {
		problems = append(problems, fmt.Sprintf("the gateway %s is outside this network (%s)", d.Gateway, seg.laptop.Masked()))
	}
	if gwIface == seg.iface && laptopGW != "" && laptopGW != d.Gateway.String() {
		problems = append(problems, fmt.Sprintf("this laptop's gateway here is %s, the device's %s", laptopGW, d.Gateway))
	}
	if len(problems) > 0 {
		r.Status = StatusWarn
		r.Summary = strings.Join(problems, "; ")
		r.Hint = "check the device's mask and gateway with IT: they must be those of this network"
		return r
	}
	r.Status = StatusOK
	r.Summary = fmt.Sprintf("this laptop is on %s (%s on %s): the device's address %s and gateway %s fit it",
		seg.laptop.Masked(), seg.laptop, seg.iface, d.Address, d.Gateway)
	if gwIface != seg.iface || laptopGW == "" {
		r.Note = "this laptop's gateway on this network is not known here: the gateway check says whether " + d.Gateway.String() + " answers"
	}
	return r
}

// maskText writes a prefix length as a dotted IPv4 mask.
func maskText(bits int) string {
	var mask [4]byte
	for i := range min(bits, 32) {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(mask).String()
}

// noStaticAddress is the skip of the address checks run without a static address.
func noStaticAddress() Result {
	var r Result
	r.Status = StatusSkip
	r.Reason = "no static address to check (give the bundle of a device with a static address)"
	r.Summary = "not run: " + r.Reason
	return r
}

// linkAnswer is what came back from an address on the segment.
type linkAnswer struct {
	hw        string        // hardware address that answered ARP
	arpErr    error         // ErrNoNeighborProbe or a failure to ask
	ping      PingStats     // echo replies
	pingErr   error         // ErrNoICMPSocket or a send failure
	pingRTT   time.Duration // first reply's round trip
	pingShown string        // how the ping went, for the evidence
}

func (a linkAnswer) answered() bool { return a.hw != "" || a.ping.Received > 0 }

// arpChecked reports whether the link could be asked at all.
func (a linkAnswer) arpChecked() bool { return a.arpErr == nil }

// pingChecked reports whether echo requests went out.
func (a linkAnswer) pingChecked() bool { return a.pingErr == nil || a.ping.Sent > 0 }

// askLink asks the segment about addr two ways at once: ARP (who holds it) and ICMP echo.
// Either answer means a machine holds the address.
func askLink(ctx context.Context, env *probeEnv, addr netip.Addr) linkAnswer {
	var a linkAnswer
	var wg sync.WaitGroup
	wg.Go(func() {
		neighbor := env.cfg.Neighbor
		if neighbor == nil {
			neighbor = systemNeighbor
		}
		nctx, cancel := context.WithTimeout(ctx, neighborWait)
		defer cancel()
		a.hw, a.arpErr = neighbor(nctx, addr)
	})
	wg.Go(func() {
		ping := env.cfg.Ping
		if ping == nil {
			ping = proBingPing
		}
		req := PingRequest{Target: addr, Count: 2, Interval: env.cfg.PingInterval, Wait: neighborWait}
		a.ping, a.pingErr = ping(ctx, req)
		if errors.Is(a.pingErr, ErrNoICMPSocket) {
			req.Privileged = true
			a.ping, a.pingErr = ping(ctx, req)
		}
		switch {
		case a.ping.Received > 0:
			a.pingRTT = slices.Min(a.ping.RTTs)
			a.pingShown = fmt.Sprintf("%d/%d replies", a.ping.Received, a.ping.Sent)
		case a.ping.Sent > 0:
			a.pingShown = fmt.Sprintf("no reply to %d requests", a.ping.Sent)
		case a.pingErr != nil:
			a.pingShown = "not sent: " + a.pingErr.Error()
		}
	})
	wg.Wait()
	return a
}

// setLinkEvidence records both probes.
func setLinkEvidence(r *Result, a linkAnswer) {
	switch {
	case a.hw != "":
		r.setEvidence("arp", "answered by "+a.hw)
	case a.arpChecked():
		r.setEvidence("arp", "no answer")
	default:
		r.setEvidence("arp", "not checked: "+a.arpErr.Error())
	}
	r.setEvidence("ping", a.pingShown)
	if a.ping.Received > 0 {
		r.setMetric("rtt_ms", ms(a.pingRTT))
	}
}

// answerText says who answered, for summaries.
func answerText(a linkAnswer) string {
	var parts []string
	if a.hw != "" {
		parts = append(parts, "ARP from "+a.hw)
	}
	if a.ping.Received > 0 {
		parts = append(parts, fmt.Sprintf("ping in %s", roundDuration(a.pingRTT)))
	}
	return strings.Join(parts, ", ")
}

// notCheckedText says which probe could not be made on this laptop.
func notCheckedText(a linkAnswer) string {
	switch {
	case !a.arpChecked() && !a.pingChecked():
		return "neither ARP nor ping could be used on this laptop"
	case !a.arpChecked():
		return "ARP is not checked on " + runtime.GOOS + ", and a machine may ignore ping"
	case !a.pingChecked():
		return "ping could not be sent from this laptop (ARP was checked)"
	}
	return ""
}

// probeOnSegment runs the common start of the gateway and address checks: find the segment
// and ask the link about addr. ok is false when r is already the result.
func probeOnSegment(ctx context.Context, env *probeEnv, addr netip.Addr) (a linkAnswer, r Result, ok bool) {
	if !env.cfg.Device.Static() {
		return a, noStaticAddress(), false
	}
	seg, err := findSegment(env)
	if err != nil {
		return a, interfacesError(err), false
	}
	if !seg.onLink() {
		return a, notOnSegment(seg), false
	}
	r.setEvidence("target", addr.String())
	if seg.laptop.Addr() == addr {
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("this laptop itself uses %s, on %s", addr, seg.iface)
		r.Hint = "give the laptop another address, or ask IT for another address for the device"
		return a, r, false
	}
	a = askLink(ctx, env, addr)
	setLinkEvidence(&r, a)
	if !a.answered() && !a.arpChecked() && !a.pingChecked() {
		r.Status = StatusSkip
		r.Reason = "neither ARP nor ping could be used on this laptop: nothing was sent"
		r.Summary = "not run: " + r.Reason
		r.Hint = icmpPrivilegeHint(runtime.GOOS)
		return a, r, false
	}
	return a, r, true
}

// checkDeviceGateway checks that the device's gateway answers on the segment.
func checkDeviceGateway(ctx context.Context, env *probeEnv) Result {
	a, r, ok := probeOnSegment(ctx, env, deviceGateway(env))
	if !ok {
		return r
	}
	g := env.cfg.Device.Gateway
	if a.answered() {
		r.Status = StatusOK
		r.Summary = fmt.Sprintf("the gateway %s answers (%s)", g, answerText(a))
		r.Note = notCheckedText(a)
		return r
	}
	if !a.arpChecked() {
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("the gateway %s does not answer ping; ARP is not checked on %s", g, runtime.GOOS)
		r.Hint = "routers often ignore ping: check the gateway address with IT"
		return r
	}
	r.Status = StatusFail
	r.Summary = fmt.Sprintf("nothing answers at the gateway %s (no ARP reply, no ping reply)", g)
	r.Hint = "the gateway address is wrong or the router is off this network: check it with IT"
	return r
}

func deviceGateway(env *probeEnv) netip.Addr {
	if env.cfg.Device == nil {
		return netip.Addr{}
	}
	return env.cfg.Device.Gateway
}

// checkDeviceAddress checks that nobody on the segment already holds the device's address.
func checkDeviceAddress(ctx context.Context, env *probeEnv) Result {
	var addr netip.Addr
	if env.cfg.Device.Static() {
		addr = env.cfg.Device.Address.Addr()
	}
	a, r, ok := probeOnSegment(ctx, env, addr)
	if !ok {
		return r
	}
	if a.answered() {
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("%s is already in use: %s", addr, answerText(a))
		r.Hint = "another machine holds the device's address: ask IT for another address"
		return r
	}
	r.Status = StatusOK
	r.Summary = fmt.Sprintf("nothing answers at %s: the address is free", addr)
	r.Note = notCheckedText(a)
	return r
}

// parseARPTable finds addr in the Linux /proc/net/arp format and returns its hardware
// address when the entry is complete (flag 0x2): a machine answered.
func parseARPTable(data []byte, addr netip.Addr) (string, bool) {
	const atfComplete = 0x2
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[min(1, len(lines)):] {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != addr.String() {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil || flags&atfComplete == 0 || f[3] == "00:00:00:00:00:00" {
			continue
		}
		return f[3], true
	}
	return "", false
}
