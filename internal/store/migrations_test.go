package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  int
		err   string
	}{
		{"in order", []string{"0001_initial.sql", "0002_devices.sql"}, 2, ""},
		{"a gap", []string{"0001_initial.sql", "0003_sealed.sql"}, 0, "numbered from 1 without gaps"},
		{"no name", []string{"0001.sql"}, 0, "want NNNN_name.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("-- " + f)}
			}
			ms, err := LoadMigrations(fsys, "m")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error with %q", ms, err, tt.err)
				}
				return
			}
			if err != nil || len(ms) != tt.want || ms[1].Version != 2 || ms[1].Name != "devices" || ms[1].SQL != "-- 0002_devices.sql" {
				t.Fatalf("got %+v, %v", ms, err)
			}
		})
	}
}
