//go:build unix

package aescodec

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

// TestLargeFileMemory writes a 1 GiB data file into a temporary directory and
// decodes it, checking that the peak resident memory of decoding stays under
// 64 MiB. It takes about half a minute, so it only runs when
// SMARTX_LARGE_FILE_TEST=1.
func TestLargeFileMemory(t *testing.T) {
	if testing.Short() || os.Getenv("SMARTX_LARGE_FILE_TEST") != "1" {
		t.Skip("set SMARTX_LARGE_FILE_TEST=1 to write and decode a 1 GiB file")
	}
	const size = 1 << 30
	path := filepath.Join(t.TempDir(), "large.sxd")
	written := writeLargeFile(t, path, size)

	runtime.GC()
	resetPeakRSS(t)
	before := peakRSS(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	rd, err := NewReader(f, StaticKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		if _, err := rd.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	elapsed := time.Since(start)
	peak := peakRSS(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("decoded %d readings from a %d MiB file in %v (%.1f M readings/s): peak RSS %d MiB (%d MiB before decoding), Go heap in use %d KiB",
		n, written>>20, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6, peak>>20, before>>20, ms.HeapInuse>>10)
	if n == 0 {
		t.Fatal("no reading decoded")
	}
	if peak > 64<<20 {
		t.Errorf("peak RSS %d MiB while decoding, want under 64 MiB", peak>>20)
	}
}

// writeLargeFile writes synthetic readings (cheap to make, about 4.5 bytes
// each once encoded) until the file reaches size bytes; it returns the size.
func writeLargeFile(t *testing.T, path string, size int64) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	schema := readings.Schema{Interval: time.Second}
	for _, name := range []string{"main", "hvac", "lighting", "it", "other", "voltage", "main_energy"} {
		schema.Channels = append(schema.Channels, readings.Channel{Name: name, Unit: "W"})
	}
	w, err := NewWriter(bw, testKey, testHeader(schema))
	if err != nil {
		t.Fatal(err)
	}
	values := make([]int64, len(schema.Channels))
	x := uint64(1)
	at := created.UnixMilli()
	for i := int64(0); ; i++ {
		if i%(1<<16) == 0 && int64(bw.Buffered())+mustSize(t, f) >= size-2*DefaultChunkSize {
			break
		}
		ch := int(i % int64(len(values)))
		if ch == 0 {
			at += 1000
		}
		x = x*6364136223846793005 + 1442695040888963407
		values[ch] += int64(x>>58) - 32
		if err := w.Write(readings.Reading{Time: at, Channel: ch, Value: values[ch]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return mustSize(t, f)
}

func mustSize(t *testing.T, f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// resetPeakRSS clears the kernel's high-water mark of this process (Linux),
// so the peak measured afterwards is the decoder's alone.
func resetPeakRSS(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS (%v): the figure includes writing the file", err)
	}
}

// peakRSS returns the peak resident set size in bytes: VmHWM from
// /proc/self/status, else getrusage.
func peakRSS(t *testing.T) int64 {
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return int64(ru.Maxrss) << 10
}
