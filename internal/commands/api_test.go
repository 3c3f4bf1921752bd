package commands

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/smart-impulse/smartx/internal/ui"
)

func TestAPIFieldsMakeABodyOrAQuery(t *testing.T) {
	io, _, _, _ := ui.Test()
	f := NewFactory(io)
	parse := func(kv string, typed bool) apiParam {
		t.Helper()
		p, err := parseAPIField(kv, typed, f)
		if err != nil {
			t.Fatalf("parseAPIField(%q) = %v", kv, err)
		}
		return p
	}
	obj := map[string]any{}
	for _, p := range []apiParam{
		parse("name=Lyon", false),
		parse("count=3", true),
		parse("count_text=3", false),
		parse("ok=true", true),
		parse("gone=null", true),
		parse("scopes[]=readings:read", false),
		parse("scopes[]=devices:read", false),
		parse("network[mode]=dhcp", false),
		parse("network[dns][]=192.0.2.53", false),
	} {
		if err := p.addToObject(obj); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := json.Marshal(obj)
	want := `{"count":3,"count_text":"3","gone":null,"name":"Lyon","network":{"dns":["192.0.2.53"],"mode":"dhcp"},"ok":true,"scopes":["readings:read","devices:read"]}`
	if string(body) != want {
		t.Fatalf("body %s\nwant %s", body, want)
	}

	q := url.Values{}
	for _, kv := range []string{"channel[]=main", "channel[]=hvac", "limit=10"} {
		if err := parse(kv, true).addToQuery(q); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.Encode(); got != "channel=main&channel=hvac&limit=10" {
		t.Fatalf("query %s", got)
	}
	if err := parse("network[mode]=dhcp", false).addToQuery(q); err == nil {
		t.Fatal("an object in a query string was accepted")
	}
	for _, bad := range []string{"noequals", "=v", "a[b=c", "a[b]x=1"} {
		if _, err := parseAPIField(bad, false, f); err == nil {
			t.Errorf("parseAPIField(%q) accepted", bad)
		}
	}
	if err := parse("scopes=x", false).addToObject(map[string]any{"scopes": "already"}); err != nil {
		t.Fatalf("a plain key replaces: %v", err)
	}
	if err := parse("scopes[]=x", false).addToObject(map[string]any{"scopes": "already"}); err == nil {
		t.Fatal("appending to a value that is not an array was accepted")
	}
}
