package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/client"
)

type apiOptions struct {
	method    string
	rawFields []string
	fields    []string
	headers   []string
	input     string
	paginate  bool
}

func newAPICmd(f *Factory) *cobra.Command {
	o := &apiOptions{}
	cmd := &cobra.Command{
		Use:   "api PATH",
		Short: "Call any route of the platform API with your credentials",
		Long: `Send a request to the platform API and print the answer, like gh api: the server, CA and
token are the profile's (or --server, SMARTX_SERVER, SMARTX_TOKEN...). PATH is a path of that
server, /v1/...; a URL of another server is refused, so your token never leaves for it.

Fields: -f key=value adds a string, -F key=value a typed value: true, false, null and
numbers as such, @FILE the content of a file (@- standard input). key[] appends to an array,
key[sub] sets a field of an object. With GET (the default without fields) fields go to the
query string; otherwise they form a JSON body, and the method defaults to POST (but for
--paginate, which pages GET requests). --input FILE
(- for standard input) sends a body as it is; fields then go to the query string.

--paginate follows next_cursor (the audit log, JSON pages of readings) and prints each page
as it comes. A JSON answer is indented on a terminal and printed as it is elsewhere. An error
answer (not 2xx) is printed too, its problem detail goes to stderr and the exit status is 1.
docs/api.md and docs/api/openapi.yaml describe every route.`,
		Example: `  smartx api /v1/auth/whoami
  smartx api -X GET /v1/sites -f name="Paris HQ"
  smartx api -X POST /v1/sites -f name="Lyon" -f time_zone=Europe/Paris
  smartx api -X PATCH /v1/sites/sit_4kq2 -f address="12 rue Royale"
  smartx api -X POST /v1/tokens -f name=ci -f 'scopes[]=readings:read' -F expires_at=@expiry.txt
  smartx api /v1/audit -f status=4xx --paginate | jq -c '.entries[]'
  smartx api "/v1/readings?device=SX-00042&format=csv" > day.csv`,
		Args: exactArgs(1, "a path of the API, such as /v1/sites"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAPI(cmd.Context(), f, o, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.method, "method", "X", "", "HTTP method (default GET, or POST with fields or --input)")
	fs.StringArrayVarP(&o.rawFields, "raw-field", "f", nil, "a string field, key=value (repeatable)")
	fs.StringArrayVarP(&o.fields, "field", "F", nil, "a typed field, key=value: numbers, true, false, null, @FILE (repeatable)")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, `an HTTP header, "Name: value" (repeatable)`)
	fs.StringVar(&o.input, "input", "", "send this file as the body (- for standard input)")
	fs.BoolVar(&o.paginate, "paginate", false, "follow next_cursor and print every page")
	return cmd
}

func runAPI(ctx context.Context, f *Factory, o *apiOptions, path string) error {
	if f.Global.Output != "" {
		return usageErrorf("smartx api prints the server's answer as it is: -o does not apply (pipe it to jq)")
	}
	header := http.Header{}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return usageErrorf("--header %q: use \"Name: value\"", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	var params []apiParam
	for _, kv := range o.rawFields {
		p, err := parseAPIField(kv, false, f)
		if err != nil {
			return err
		}
		params = append(params, p)
	}
	for _, kv := range o.fields {
		p, err := parseAPIField(kv, true, f)
		if err != nil {
			return err
		}
		params = append(params, p)
	}
	method := strings.ToUpper(o.method)
	if method == "" {
		method = http.MethodGet
		if (len(params) > 0 || o.input != "") && !o.paginate {
			method = http.MethodPost
		}
	}
	if o.paginate && method != http.MethodGet {
		return usageErrorf("--paginate follows pages of GET requests, not %s", method)
	}
	req := client.RawRequest{Method: method, Path: path, Header: header, Query: url.Values{}}
	inQuery := o.input != "" || method == http.MethodGet || method == http.MethodHead
	if o.input != "" {
		body, err := readAPIInput(f, o.input)
		if err != nil {
			return err
		}
		req.Body = body
	}
	if inQuery {
		for _, p := range params {
			if err := p.addToQuery(req.Query); err != nil {
				return err
			}
		}
	} else if len(params) > 0 {
		obj := map[string]any{}
		for _, p := range params {
			if err := p.addToObject(obj); err != nil {
				return err
			}
		}
		body, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		req.Body = body
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	if _, _, err := c.SplitPath(path); err != nil {
		return &usageError{err: err}
	}
	for {
		next, err := apiCall(ctx, f, c, req, o.paginate)
		if err != nil || next == "" {
			return err
		}
		req.Query.Set("cursor", next)
	}
}

// apiCall sends one request, prints the answer and returns the next page's cursor when asked
// to follow pages and the answer has one.
func apiCall(ctx context.Context, f *Factory, c *client.Client, req client.RawRequest, paginate bool) (string, error) {
	resp, err := c.Raw(ctx, req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !isJSON || (!f.IO.IsStdoutTTY() && !paginate && ok) {
		// Streams (CSV, NDJSON exports) and piped JSON go through as they come.
		if _, err := io.Copy(f.IO.Out, resp.Body); err != nil {
			return "", fmt.Errorf("read the answer: %w", err)
		}
		if !ok {
			return "", apiStatusError(req, resp, nil)
		}
		return "", nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	out := body
	if f.IO.IsStdoutTTY() {
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			out = pretty.Bytes()
		}
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if _, err := f.IO.Out.Write(out); err != nil {
		return "", err
	}
	if !ok {
		return "", apiStatusError(req, resp, body)
	}
	if !paginate {
		return "", nil
	}
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	_ = json.Unmarshal(body, &page) // an answer without pages has no cursor
	return page.NextCursor, nil
}

// apiStatusError is the one line for an error answer: its status and the problem's detail.
func apiStatusError(req client.RawRequest, resp *http.Response, body []byte) error {
	p := client.ProblemOf(req.Method, req.Path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
	msg := fmt.Sprintf("%s %s: %d %s", req.Method, req.Path, resp.StatusCode, http.StatusText(resp.StatusCode))
	if p.Problem.Detail != "" {
		msg += ": " + p.Problem.Detail
	}
	if p.Problem.Code != "" {
		msg += " (" + string(p.Problem.Code) + ")"
	}
	return errors.New(msg)
}

func readAPIInput(f *Factory, name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(f.IO.In)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usageErrorf("--input: %w", err)
	}
	return data, nil
}

// apiParam is one -f or -F field: its key path (a[b][] is a, b, "") and its value.
type apiParam struct {
	raw   string
	path  []string
	value any
}

// parseAPIField reads key=value; typed fields (-F) turn true, false, null and numbers into
// JSON values and @FILE into the file's content.
func parseAPIField(kv string, typed bool, f *Factory) (apiParam, error) {
	flag := "-f"
	if typed {
		flag = "-F"
	}
	key, value, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return apiParam{}, usageErrorf("%s %q: use key=value", flag, kv)
	}
	path, err := apiKeyPath(key)
	if err != nil {
		return apiParam{}, usageErrorf("%s %q: %w", flag, kv, err)
	}
	p := apiParam{raw: kv, path: path, value: value}
	if !typed {
		return p, nil
	}
	switch {
	case value == "true", value == "false":
		p.value = value == "true"
	case value == "null":
		p.value = nil
	case strings.HasPrefix(value, "@"):
		data, err := readAPIInput(f, value[1:])
		if err != nil {
			return apiParam{}, usageErrorf("%s %q: %w", flag, kv, err)
		}
		p.value = strings.TrimSuffix(string(data), "\n")
	default:
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			p.value = json.Number(value)
		}
	}
	return p, nil
}

// apiKeyPath splits a[b][] into a, b, "" (an empty part appends to an array).
func apiKeyPath(key string) ([]string, error) {
	name, rest, _ := strings.Cut(key, "[")
	if name == "" {
		return nil, errors.New("the key has no name")
	}
	path := []string{name}
	if rest == "" && !strings.Contains(key, "[") {
		return path, nil
	}
	rest = "[" + rest
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("unexpected %q in the key: use a, a[] or a[b]", rest)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, errors.New("a [ is not closed in the key")
		}
		path = append(path, rest[1:end])
		rest = rest[end+1:]
	}
	return path, nil
}

// addToQuery adds the field as a query parameter; key[] repeats the parameter.
func (p apiParam) addToQuery(q url.Values) error {
	if len(p.path) > 2 || (len(p.path) == 2 && p.path[1] != "") {
		return usageErrorf("field %q: a query string has no objects: use key=value or key[]=value", p.raw)
	}
	v := ""
	switch x := p.value.(type) {
	case nil:
		v = ""
	case string:
		v = x
	default:
		v = fmt.Sprint(x)
	}
	q.Add(p.path[0], v)
	return nil
}

// addToObject sets the field in a JSON body, creating the objects and arrays on its path.
func (p apiParam) addToObject(obj map[string]any) error {
	cur := obj
	for i, k := range p.path {
		last := i == len(p.path)-1
		next := ""
		if !last {
			next = p.path[i+1]
		}
		switch {
		case last:
			cur[k] = p.value
			return nil
		case next == "" && i+1 == len(p.path)-1: // k[] = value
			arr, _ := cur[k].([]any)
			if _, isArr := cur[k]; isArr && arr == nil {
				return usageErrorf("field %q: %s is already set as a value, not an array", p.raw, k)
			}
			cur[k] = append(arr, p.value)
			return nil
		case next == "":
			return usageErrorf("field %q: arrays of objects are not supported: use --input with a JSON body", p.raw)
		default:
			child, isObj := cur[k].(map[string]any)
			if !isObj {
				if _, set := cur[k]; set {
					return usageErrorf("field %q: %s is already set as a value, not an object", p.raw, k)
				}
				child = map[string]any{}
				cur[k] = child
			}
			cur = child
		}
	}
	return nil
}
