package badinput

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Error is input the user must fix. It prints as one line:
// "FILE:LINE: FIELD: message", leaving out the parts that are unknown.
type Error struct {
	File  string // path as the user would type it; may be a directory
	Line  int    // 1-based; 0 when unknown
	Field string // dotted key or JSON path; empty when unknown
	Err   error
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		if s != "" {
			s += ": "
		}
		s += e.Field
	}
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error for file with a formatted message.
func New(file string, format string, args ...any) *Error {
	return &Error{File: file, Err: fmt.Errorf(format, args...)}
}

// Field returns an *Error naming a field of file.
func Field(file, field string, format string, args ...any) *Error {
	return &Error{File: file, Field: field, Err: fmt.Errorf(format, args...)}
}

// Wrap marks err as input the user must fix in file, unless it already
// names a file.
func Wrap(file string, err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	return &Error{File: file, Err: err}
}

// Is reports whether err is, or wraps, input the user must fix.
func Is(err error) bool {
	var be *Error
	return errors.As(err, &be)
}

// PathCause drops the path from an *fs.PathError: the Error names the file
// already, and one path twice in one line reads badly.
func PathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
