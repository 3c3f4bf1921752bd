package commands

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkReadingsVsCurl measures `smartx readings` against curl fetching the same CSV export
// (design.md: within 1.15x of curl). Both are real processes against a real `smartx server
// --dev` on 127.0.0.1 holding a month of one-minute readings of one simulated device (720
// files, 302,400 readings); each iteration runs both, one after the other, with stdout to
// /dev/null, in turns (curl first, then smartx first), so a burst of load on a shared machine
// falls on both alike. It reports the median time of each and the ratio of the medians, which
// a few slow runs do not move.
func BenchmarkReadingsVsCurl(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl is not installed")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "smartx")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/smartx").CombinedOutput(); err != nil {
		b.Fatalf("build smartx: %v\n%s", err, out)
	}
	env := benchServer(b, bin, dir)
	run := func(name string, args ...string) string {
		b.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(bin, "site", "create", "--name", "Bench")
	run(bin, "device", "provision", "--serial", "SX-BENCH", "--site", "Bench", "--dhcp", "--out", filepath.Join(dir, "bundle.json"))
	run(bin, "device", "simulate", "--bundle", filepath.Join(dir, "bundle.json"), "--spool", filepath.Join(dir, "spool"),
		"--start", "2026-10-01", "--duration", "30d", "--speed", "1e8")

	from, to := "2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z"
	server, token, ca := envValue(env, "SMARTX_SERVER"), envValue(env, "SMARTX_TOKEN"), envValue(env, "SMARTX_CA_FILE")
	curlArgs := []string{"-sS", "--fail", "--cacert", ca, "-H", "Authorization: Bearer " + token, "-H", "Accept: text/csv",
		"-o", "/dev/null", server + "/v1/readings?device=SX-BENCH&from=" + from + "&to=" + to}
	smartxArgs := []string{"readings", "--device", "SX-BENCH", "--from", from, "--to", to, "--format", "csv"}
	lines := strings.Count(run(bin, smartxArgs...), "\n")
	if lines != 302400+1 {
		b.Fatalf("the export has %d lines, want 302,401", lines)
	}

	timed := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = env // stdout and stderr: /dev/null
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return time.Since(start)
	}
	var curlTimes, smartxTimes []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			curlTimes = append(curlTimes, timed(curl, curlArgs...))
			smartxTimes = append(smartxTimes, timed(bin, smartxArgs...))
		} else {
			smartxTimes = append(smartxTimes, timed(bin, smartxArgs...))
			curlTimes = append(curlTimes, timed(curl, curlArgs...))
		}
	}
	curlMedian, smartxMedian := median(curlTimes), median(smartxTimes)
	b.ReportMetric(curlMedian.Seconds()*1e3, "curl-median-ms")
	b.ReportMetric(smartxMedian.Seconds()*1e3, "smartx-median-ms")
	b.ReportMetric(smartxMedian.Seconds()/curlMedian.Seconds(), "smartx/curl")
	b.ReportMetric(302400/smartxMedian.Seconds(), "smartx-readings/s")
}

// median returns the middle of ds (the mean of the two middle ones for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchServer starts `smartx server --dev` on 127.0.0.1 for the benchmark and returns the
// environment that points smartx at it; the server stops when the benchmark ends.
func benchServer(b *testing.B, bin, dir string) []string {
	b.Helper()
	envFile := filepath.Join(dir, "dev.env")
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, bin, "server", "--dev", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--dev-env-file", envFile)
	srv.Dir = dir
	srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
	srv.WaitDelay = 10 * time.Second
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); _ = srv.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.Open(envFile)
		if err == nil {
			env := append(os.Environ(), "SMARTX_CONFIG_DIR="+filepath.Join(dir, "config"), "NO_COLOR=1")
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), "="); ok {
					if k == "SMARTX_CA_FILE" && !filepath.IsAbs(v) {
						v = filepath.Join(dir, v)
					}
					env = append(env, k+"="+v)
				}
			}
			f.Close()
			if envValue(env, "SMARTX_TOKEN") != "" {
				return env
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("smartx server --dev did not write its env file within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// envValue returns the last value of key in env.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
