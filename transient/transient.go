package transient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error marks Err as trouble that retrying may cure.
type Error struct{ Err error }

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Temporary() bool { return true }

// Mark wraps err so that Is reports it: for errors the caller knows to be
// transient (buildkitd went away, a network step failed). nil stays nil.
func Mark(err error) error {
	if err == nil || marked(err) {
		return err
	}
	return &Error{Err: err}
}

// Is reports whether err, or an error it wraps, is trouble that retrying
// may cure: anything in its chain that says so with Temporary() bool, or a
// network or registry failure that classifies as one (see Classify). A
// canceled context never is.
func Is(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return marked(err) || classify(err)
}

// Classify marks err when it is a registry or network failure that may go
// away on retry, and returns it unchanged otherwise.
func Classify(err error) error {
	if err == nil || marked(err) || !classify(err) || errors.Is(err, context.Canceled) {
		return err
	}
	return &Error{Err: err}
}

// marked walks err's chain (both Unwrap forms) for an error that says it
// is temporary.
func marked(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Temporary() bool }); ok && t.Temporary() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if marked(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// classify reads the errors that do not say so themselves, or say it in a
// way that does not fit: server-side trouble (5xx, 429) and broken
// connections are transient; what the registry answered on purpose (404,
// 401, 403, invalid manifest) and local mistakes (a bad certificate, an
// unknown host) are not, because retrying would answer the same.
func classify(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests
	}
	if errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	// The server closed the connection before answering.
	var uerr *url.Error
	if errors.As(err, &uerr) && errors.Is(uerr.Err, io.EOF) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
