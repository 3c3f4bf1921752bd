package preflighttest

import (
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
)

// HealthPath is the platform's health endpoint.
const HealthPath = "/v1/health"

// HealthHandler answers GET /v1/health with 200 {"status":"ok",...} like the
// platform, and 404 elsewhere.
func HealthHandler() http.Handler {
	return HealthHandlerStatus(http.StatusOK, "ok")
}

// HealthHandlerStatus answers the health path with the given HTTP status and
// JSON status field.
func HealthHandlerStatus(code int, status string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HealthPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%q,"service":"platform-test"}`, status)
	})
}

// RedirectHandler answers every request with code and a Location, like a
// captive portal (302 to a login page) or the platform's own HTTPS redirect.
func RedirectHandler(code int, location string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", location)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html><head><title>Redirect</title></head><body><a href=%q>continue</a></body></html>", html.EscapeString(location))
	})
}

// BlockPageHandler answers every request with an HTML page titled title,
// like a filtering proxy's block page.
func BlockPageHandler(code int, title string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>%s</title></head><body><h1>%s</h1></body></html>",
			html.EscapeString(title), html.EscapeString(title))
	})
}

// TransparentProxyHandler wraps next and adds the headers a caching proxy
// adds (Via, X-Cache).
func TransparentProxyHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Via", "1.1 proxy.site.test (squid/6.6)")
		w.Header().Set("X-Cache", "MISS from proxy.site.test")
		next.ServeHTTP(w, r)
	})
}

// discardLogger silences http.Server's error log (handshake errors from
// clients that test failure modes are expected).
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
