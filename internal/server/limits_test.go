package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
)

// A REST request whose body trickles in is not held: refused at once when
// its credentials are bad (before the body is read), cut off after
// ReadTimeout when they are good. (Before, both were held for as long as
// the client kept sending a byte now and then.)
func TestSlowRequestBodies(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.ReadTimeout = 500 * time.Millisecond
	}))
	for _, tc := range []struct {
		name, usersig string
	}{
		{"bad usersig", "junk"},
		{"good usersig", imkittest.SignFor(t, imkittest.Admin, time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			q := url.Values{"sdkappid": {fmt.Sprint(imkittest.SDKAppID)}, "identifier": {imkittest.Admin},
				"usersig": {tc.usersig}, "random": {"1"}, "contenttype": {"json"}}
			fmt.Fprintf(c, "POST /v4/im_open_login_svc/account_import?%s HTTP/1.1\r\nHost: imkit\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", q.Encode())
			// The server answers and closes the connection while the rest
			// of the body has not come.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"ActionStatus":"FAIL"`) {
				t.Fatalf("answer %d %s, want a refusal", resp.StatusCode, body)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the connection closed (EOF)", err)
			}
		})
	}
}
