package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// fpmActive asks php-fpm's status page (pm.status_path, /fpm-status in the
// rendered config) over FastCGI on its socket how many of its workers
// serve a request, this one included. Go's net/http/fcgi serves FastCGI
// but has no client, and no client library is served to this build; the
// one request needed is short.
func fpmActive(socket string, timeout time.Duration) (int, error) {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	body, err := fcgiGet(c, map[string]string{
		"REQUEST_METHOD":  "GET",
		"SCRIPT_NAME":     fpmStatusPath,
		"SCRIPT_FILENAME": fpmStatusPath,
		"REQUEST_URI":     fpmStatusPath + "?json",
		"QUERY_STRING":    "json",
		"SERVER_PROTOCOL": "HTTP/1.1",
	})
	if err != nil {
		return 0, err
	}
	var st struct {
		Active *int `json:"active processes"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Active == nil {
		return 0, fmt.Errorf("php-fpm's status page: unexpected %.100q", body)
	}
	return *st.Active, nil
}

// fpmStatusPath is the pool's pm.status_path, fixed by phpbuild's config.
const fpmStatusPath = "/fpm-status"

// FastCGI record types and the responder role (the FastCGI 1.0 spec).
const (
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiStderr       = 7
	fcgiResponder    = 1
)

// fcgiGet sends one request with params and no body on c and returns the
// body of the response, its CGI headers cut off.
func fcgiGet(c io.ReadWriter, params map[string]string) ([]byte, error) {
	var p bytes.Buffer
	for k, v := range params {
		fcgiLen(&p, len(k))
		fcgiLen(&p, len(v))
		p.WriteString(k + v)
	}
	var req bytes.Buffer
	fcgiRecord(&req, fcgiBeginRequest, []byte{0, fcgiResponder, 0, 0, 0, 0, 0, 0})
	fcgiRecord(&req, fcgiParams, p.Bytes())
	fcgiRecord(&req, fcgiParams, nil)
	fcgiRecord(&req, fcgiStdin, nil)
	if _, err := c.Write(req.Bytes()); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	r := bufio.NewReader(c)
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, fmt.Errorf("reading php-fpm's answer: %w", err)
		}
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(r, content); err != nil {
			return nil, fmt.Errorf("reading php-fpm's answer: %w", err)
		}
		content = content[:binary.BigEndian.Uint16(h[4:6])]
		switch h[1] {
		case fcgiStdout:
			out.Write(content)
		case fcgiStderr:
			// php-fpm's notices; not the answer
		case fcgiEndRequest:
			_, body, ok := bytes.Cut(out.Bytes(), []byte("\r\n\r\n"))
			if !ok {
				return nil, errors.New("php-fpm's answer has no end of headers")
			}
			return body, nil
		}
	}
}

// fcgiRecord appends one record of request 1; content is under 64 KiB.
func fcgiRecord(b *bytes.Buffer, typ byte, content []byte) {
	b.Write([]byte{1, typ, 0, 1, byte(len(content) >> 8), byte(len(content)), 0, 0})
	b.Write(content)
}

// fcgiLen appends a name-value pair's length: one byte under 128, else
// four with the top bit set.
func fcgiLen(b *bytes.Buffer, n int) {
	if n < 128 {
		b.WriteByte(byte(n))
		return
	}
	binary.Write(b, binary.BigEndian, uint32(n)|1<<31)
}
