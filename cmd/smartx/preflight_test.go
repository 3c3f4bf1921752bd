package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/device"
	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
)

// scriptCondition answers the scripts' own conditions: [netns] is true where this test may
// create network namespaces (root, with ip netns); [postgres] where PostgreSQL's binaries are
// installed (an error instead of false under SMARTX_REQUIRE_POSTGRES=1, as in CI).
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "netns":
		return netnsAllowed(), nil
	case "postgres":
		return pgtest.Available("cmd/smartx")
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

var netnsAllowed = sync.OnceValue(func() bool {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return false
	}
	name := fmt.Sprintf("sxprobe%d", os.Getpid())
	if err := exec.Command("ip", "netns", "add", name).Run(); err != nil {
		return false
	}
	return exec.Command("ip", "netns", "del", name).Run() == nil
})

// mkBundle writes a valid provisioning bundle of device SX-00042 (the secrets are made up):
// mkbundle FILE server=URL [ca=PEMFILE] [ip=ADDR/LEN gateway=ADDR] [dns=ADDR,...] [ntp=HOST[:PORT]] [proxy=URL].
// Without ip it is a DHCP device.
func mkBundle(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mkbundle FILE server=URL [ca=PEMFILE] [ip=ADDR/LEN gateway=ADDR] [dns=A,B] [ntp=HOST] [proxy=URL]")
	}
	b := &device.Bundle{
		Version: device.BundleVersion, DeviceID: api.PrefixDevice + "sx00042test", Serial: "SX-00042",
		SiteID: api.PrefixSite + "lyontest", SiteName: "Lyon warehouse",
		UploadCredential: api.DeviceCredentialPrefix + "dev_sx00042test_0123456789abcdefghij",
		DeviceKey:        strings.Repeat("0f", 32), KeyID: 1,
		Network:   device.NetworkSettings{Mode: device.ModeDHCP},
		CreatedAt: time.Date(2026, 3, 24, 9, 0, 0, 0, time.UTC),
	}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("mkbundle: %q is not key=value", kv)
		}
		switch k {
		case "server":
			b.ServerURL = v
		case "ca":
			b.CACertificates = ts.ReadFile(v)
		case "ip":
			b.Network.Mode = device.ModeStatic
			b.Network.Address = netip.MustParsePrefix(v)
		case "gateway":
			b.Network.Gateway = netip.MustParseAddr(v)
		case "dns":
			for a := range strings.SplitSeq(v, ",") {
				b.Network.DNS = append(b.Network.DNS, netip.MustParseAddr(a))
			}
		case "ntp":
			b.Network.NTPServer = v
		case "proxy":
			b.Network.Proxy = v
		default:
			ts.Fatalf("mkbundle: unknown key %q", k)
		}
	}
	ts.Check(device.WriteBundle(ts.MkAbs(args[0]), b))
}

// netnsSegment builds a site's network segment out of two network namespaces joined by a
// veth pair, and nothing else: no link to this machine's own namespace, so nothing in them
// can route anywhere outside. netns-segment sets LAPTOP_NS, the namespace of the installer's
// laptop (192.0.2.23/24, default route via 192.0.2.1); the other namespace is the rest of the
// segment: the gateway 192.0.2.1 and a machine already holding 192.0.2.10. Both are deleted
// when the script ends, whether it passes or not.
func netnsSegment(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: netns-segment")
	}
	id := fmt.Sprintf("sx%d%d", os.Getpid()%100000, time.Now().UnixNano()%1000)
	laptop, site := id+"l", id+"s"
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			ts.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", laptop)
	ts.Defer(func() { _ = exec.Command("ip", "netns", "del", laptop).Run() })
	ip("netns", "add", site)
	ts.Defer(func() { _ = exec.Command("ip", "netns", "del", site).Run() })
	ip("link", "add", "name", "veth0", "netns", laptop, "type", "veth", "peer", "name", "veth1", "netns", site)
	ip("-n", laptop, "link", "set", "lo", "up")
	ip("-n", laptop, "addr", "add", "192.0.2.23/24", "dev", "veth0")
	ip("-n", laptop, "link", "set", "veth0", "up")
	ip("-n", laptop, "route", "add", "default", "via", "192.0.2.1")
	ip("-n", site, "link", "set", "lo", "up")
	ip("-n", site, "addr", "add", "192.0.2.1/24", "dev", "veth1")
	ip("-n", site, "addr", "add", "192.0.2.10/24", "dev", "veth1")
	ip("-n", site, "link", "set", "veth1", "up")
	ts.Setenv("LAPTOP_NS", laptop)
}

// duringWatch acts while a watch waits: duringwatch ACTION MARKER ARGS... runs smartx ARGS
// (a --watch), and when a line of its output first matches the regular expression MARKER
// (the end of its first run) does ACTION: open:PORT opens PORT on 127.0.0.1, as IT opening a
// rule; interrupt sends it Ctrl-C. It prints the watch's output when it ends, and fails when
// smartx exits non-zero, unless negated.
func duringWatch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: duringwatch open:PORT|interrupt MARKER ARGS...")
	}
	marker, err := regexp.Compile(args[1])
	ts.Check(err)
	bin, err := exec.LookPath(args[2])
	ts.Check(err)
	cmd := exec.Command(bin, args[3:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = os.Environ()
	for _, k := range []string{"HOME", "TMPDIR", "WORK", "SMARTX_CONFIG_DIR", "NO_COLOR", "GORACE"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())

	var out bytes.Buffer
	sc := bufio.NewScanner(io.TeeReader(stdout, &out))
	done := false
	for sc.Scan() {
		if done || !marker.Match(sc.Bytes()) {
			continue
		}
		done = true
		switch action := args[0]; {
		case action == "interrupt":
			ts.Check(cmd.Process.Signal(os.Interrupt))
		case strings.HasPrefix(action, "open:"):
			port, err := strconv.Atoi(strings.TrimPrefix(action, "open:"))
			ts.Check(err)
			s, err := preflighttest.OpenPort(port, "")
			ts.Check(err)
			ts.Defer(func() { s.Close() })
		default:
			ts.Fatalf("duringwatch: unknown action %q", action)
		}
	}
	err = cmd.Wait()
	fmt.Fprint(ts.Stdout(), out.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
	if !done {
		ts.Fatalf("duringwatch: no line of the output matched %q", args[1])
	}
	if (err != nil) != neg {
		ts.Fatalf("%s: %v (exit %s)", strings.Join(args[2:], " "), err, strconv.Itoa(cmd.ProcessState.ExitCode()))
	}
}
