package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// maxJSONBody is the largest request body a JSON route reads.
const maxJSONBody = 1 << 20

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", api.JSONContentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

// problemError carries a ready problem and extra headers through a handler's error return.
type problemError struct {
	problem *api.Problem
	headers map[string]string
}

func (e *problemError) Error() string { return e.problem.Error() }

func newProblemError(code api.Code, detail string) *problemError {
	return &problemError{problem: api.NewProblem(code, detail)}
}

// problemFor maps an error from a handler or the service to the problem the client sees. Only
// errors known to be safe say what went wrong; anything else is a bare 500.
func problemFor(err error) *problemError {
	var pe *problemError
	var ve *ValidationError
	var ves ValidationErrors
	var se *ScopeError
	var re *RateLimitError
	var mbe *http.MaxBytesError
	var rj *RejectError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &ves):
		p := api.NewProblem(api.CodeValidationFailed, ves.Error())
		for _, ve := range ves {
			p.Errors = append(p.Errors, api.FieldError{Field: ve.Field, Message: ve.Message})
		}
		return &problemError{problem: p}
	case errors.As(err, &ve):
		p := api.NewProblem(api.CodeValidationFailed, ve.Error())
		p.Errors = []api.FieldError{{Field: ve.Field, Message: ve.Message}}
		return &problemError{problem: p}
	case errors.As(err, &se):
		p := api.NewProblem(api.CodeInsufficientScope, se.Detail)
		p.Scope = se.Scope
		h := map[string]string{"WWW-Authenticate": `Bearer realm="smartx", error="insufficient_scope"`}
		if se.Scope != "" {
			h["WWW-Authenticate"] += fmt.Sprintf(`, scope="%s"`, se.Scope)
		}
		return &problemError{problem: p, headers: h}
	case errors.As(err, &re):
		secs := int(math.Ceil(re.RetryAfter.Seconds()))
		return &problemError{problem: api.NewProblem(api.CodeRateLimited, re.Error()),
			headers: map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}}
	case errors.As(err, &mbe):
		return newProblemError(api.CodePayloadTooLarge, fmt.Sprintf("the request body is over %d bytes", mbe.Limit))
	case errors.As(err, &rj):
		p := api.NewProblem(rj.Code, rj.Err.Error())
		p.Reason = rj.Reason
		return &problemError{problem: p}
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrInvalidDeviceCredential):
		return unauthenticated(api.CodeUnauthenticated, err.Error())
	case errors.Is(err, store.ErrDecommissioned):
		return newProblemError(api.CodeDeviceDecommissioned, "the device was decommissioned")
	case errors.Is(err, auth.ErrTokenExpired):
		return unauthenticated(api.CodeTokenExpired, "the token has expired: log in again or create a new token")
	case errors.Is(err, auth.ErrTokenRevoked):
		return unauthenticated(api.CodeTokenRevoked, "the token has been revoked: log in again or create a new token")
	case errors.Is(err, auth.ErrTokenMalformed), errors.Is(err, auth.ErrTokenInvalid), errors.Is(err, auth.ErrTokenUnknownKey):
		return unauthenticated(api.CodeUnauthenticated, "the token is not valid for this server")
	case errors.Is(err, store.ErrNotFound):
		return newProblemError(api.CodeNotFound, "no such resource")
	case errors.Is(err, store.ErrConflict):
		return newProblemError(api.CodeConflict, "the resource already exists")
	case errors.Is(err, store.ErrInvalidCursor):
		p := api.NewProblem(api.CodeValidationFailed, "cursor: not a cursor from this listing")
		p.Errors = []api.FieldError{{Field: "cursor", Message: "not a cursor from this listing"}}
		return &problemError{problem: p}
	}
	return newProblemError(api.CodeInternal, "the server failed to handle the request; quote the request id to support")
}

func unauthenticated(code api.Code, detail string) *problemError {
	return &problemError{problem: api.NewProblem(code, detail),
		headers: map[string]string{"WWW-Authenticate": `Bearer realm="smartx", error="invalid_token"`}}
}

// writeProblem writes a problem response.
func writeProblem(w http.ResponseWriter, pe *problemError) {
	for k, v := range pe.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(pe.problem.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(pe.problem)
}

// decodeJSON reads a JSON request body into v: application/json (or no content type), at most
// maxJSONBody bytes, one object, no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != api.JSONContentType {
			return newProblemError(api.CodeUnsupportedMediaType, "send the body as application/json")
		}
	}
	return decodeJSONBody(http.MaxBytesReader(w, r.Body, maxJSONBody), v)
}

// decodeJSONBody is the decoding half of decodeJSON, separate so it can be fuzzed.
func decodeJSONBody(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return invalid("body", "must hold a single JSON object")
	}
	return nil
}

// jsonProblem explains a decoding error in terms of the request, without echoing its content.
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &tpe):
		return invalid("body", "times must be RFC 3339, such as 2026-01-02T15:04:05Z")
	case errors.Is(err, io.EOF):
		return invalid("body", "is empty: send a JSON object")
	case errors.As(err, &syn):
		return invalid("body", "is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "must be %s", typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field")
	}
	return invalid("body", "could not be read as JSON")
}
