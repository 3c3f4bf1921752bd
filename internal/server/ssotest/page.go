package ssotest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// page is what the browser stand-in reads of a provider's page: its first form, the error the
// page shows, and a confirmation button's target.
type page struct {
	form      *form
	errorText string
	confirm   *url.URL
}

type form struct {
	action *url.URL
	method string
	values url.Values
	names  []string
}

func (f *form) has(name string) bool {
	for _, n := range f.names {
		if n == name {
			return true
		}
	}
	return false
}

func (f *form) request(ctx context.Context) (*http.Request, error) {
	if f.method == http.MethodGet {
		u := *f.action
		u.RawQuery = f.values.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.action.String(), formBody(f.values))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, err
}

// allowButton finds the target of a button that allows a request (location.href='...allowed').
var allowButton = regexp.MustCompile(`location\.href='([^']*action=allowed[^']*)'`)

func parsePage(base *url.URL, body []byte) (*page, error) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	p := &page{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if p.form == nil {
					p.form = newForm(base, n)
				}
			case "p":
				if style := attr(n, "style"); strings.Contains(style, "color:red") || strings.Contains(style, "color: red") {
					p.errorText = strings.TrimSpace(text(n))
				}
			case "button":
				if m := allowButton.FindStringSubmatch(attr(n, "onclick")); m != nil {
					if u, err := base.Parse(m[1]); err == nil {
						p.confirm = u
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p, nil
}

func newForm(base *url.URL, n *html.Node) *form {
	f := &form{action: base, method: strings.ToUpper(attr(n, "method")), values: url.Values{}}
	if f.method == "" {
		f.method = http.MethodGet
	}
	if a := attr(n, "action"); a != "" {
		if u, err := base.Parse(a); err == nil {
			f.action = u
		}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "input" || n.Data == "textarea") {
			if name := attr(n, "name"); name != "" {
				f.names = append(f.names, name)
				f.values.Set(name, attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return f
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}
