package transient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// temporary is an error that says by behaviour whether it is temporary,
// as a caller's own type (release's LockedError) does.
type temporary bool

func (t temporary) Error() string   { return fmt.Sprintf("temporary=%v", bool(t)) }
func (t temporary) Temporary() bool { return bool(t) }

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("parsing entry"), false},
		{"wrapped Error", fmt.Errorf("pushing: %w", &Error{Err: errors.New("x")}), true},
		{"503", &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"500 wrapped", fmt.Errorf("reading: %w", &transport.Error{StatusCode: http.StatusInternalServerError}), true},
		{"429", &transport.Error{StatusCode: http.StatusTooManyRequests}, true},
		{"404 manifest unknown", &transport.Error{StatusCode: http.StatusNotFound, Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}, false},
		{"401", &transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{"unexpected EOF", fmt.Errorf("reading blob: %w", io.ErrUnexpectedEOF), true},
		{"connection refused", &url.Error{Op: "Get", URL: "http://r/v2/", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"server closed connection", &url.Error{Op: "Get", URL: "http://r/v2/", Err: io.EOF}, true},
		{"canceled", &url.Error{Op: "Get", URL: "http://r/v2/", Err: context.Canceled}, false},
		{"says so", fmt.Errorf("locking: %w", temporary(true)), true},
		{"says not", temporary(false), false},
		{"joined", errors.Join(errors.New("a"), Mark(errors.New("b"))), true},
		{"marked but canceled", Mark(context.Canceled), false},
		{"deadline", &url.Error{Op: "Get", URL: "http://r/v2/", Err: context.DeadlineExceeded}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Is(tc.err); got != tc.want {
				t.Errorf("Is(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestClassifyAndMark(t *testing.T) {
	if Classify(nil) != nil || Mark(nil) != nil {
		t.Error("nil must stay nil")
	}
	plain := errors.New("a 404")
	if Classify(plain) != plain {
		t.Errorf("Classify(%v) changed an error that is not transient", plain)
	}
	refused := fmt.Errorf("pushing: %w", syscall.ECONNREFUSED)
	var e *Error
	if c := Classify(refused); !errors.As(c, &e) || !errors.Is(c, syscall.ECONNREFUSED) {
		t.Errorf("Classify(%v) = %#v, want an *Error wrapping it", refused, c)
	}
	m := Mark(plain)
	if Mark(m) != m || Classify(m) != m {
		t.Error("an error already marked is marked once")
	}
}
