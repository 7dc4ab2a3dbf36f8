// Package deploy tests the deployment described in docs/deploy.md: a real
// nginx, configured with the blocks of that page, in front of tornago.
//
// nginx is Debian's (ci-install.sh installs it), run by each test as its
// own foreground process (master_process off) with a configuration written
// into the test's temporary directory, on loopback ports. Without nginx the
// tests skip; with TORNAGO_REQUIRE_EXTERNAL=1, as .ci/run sets, they fail.
package deploy

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
)

// docPath is the page whose nginx blocks the tests run.
const docPath = "../docs/deploy.md"

// Strings of the documented blocks that the tests replace; a test fails if
// the page no longer contains them, so the page and the tests cannot drift
// apart unnoticed.
const (
	docUpstream    = "proxy_pass http://127.0.0.1:8888;"
	docReadTimeout = "proxy_read_timeout 60s;"
	docHostLine    = "proxy_set_header Host $http_host;"
	docTLSListen   = "listen 443 ssl;"
	docTLSCert     = "/etc/ssl/chat.example.com/fullchain.pem"
	docTLSKey      = "/etc/ssl/chat.example.com/privkey.pem"
	docInclude     = "/etc/nginx/snippets/tornago.conf"
)

// docBlock returns the fenced code block of docs/deploy.md between
// "<!-- deploy-test:NAME -->" and "<!-- /deploy-test:NAME -->".
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	require.NoError(t, err)
	begin, end := "<!-- deploy-test:"+name+" -->", "<!-- /deploy-test:"+name+" -->"
	_, rest, ok := strings.Cut(string(doc), begin)
	require.True(t, ok, "%s lacks %s", docPath, begin)
	section, _, ok := strings.Cut(rest, end)
	require.True(t, ok, "%s lacks %s", docPath, end)
	m := regexp.MustCompile("(?s)^\\s*```nginx\n(.*?)```\\s*$").FindStringSubmatch(section)
	require.NotNil(t, m, "%s: the %s markers must enclose one ```nginx block", docPath, name)
	return m[1]
}

// replace replaces old, which must occur in s, with repl.
func replace(t *testing.T, s, old, repl string) string {
	t.Helper()
	require.Contains(t, s, old, "docs/deploy.md changed: the test replaces %q", old)
	return strings.ReplaceAll(s, old, repl)
}

// nginxBin finds nginx (Debian installs it in /usr/sbin, which a user's
// PATH may lack), or skips/fails t.
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	testenv.Missing(t, "nginx (Debian package nginx; deploy/ci-install.sh)")
	return ""
}

// site is what a test puts behind nginx: the location block (already
// edited), the upstream it points to, and whether to add the TLS server.
type site struct {
	location string // the location block; "" means the documented one
	upstream string // host:port of the tornago server
	tls      *testCert
}

// proxy is a running nginx.
type proxy struct {
	addr    string // plain HTTP, host:port
	tlsAddr string // TLS, if the site has it
	dir     string
}

// startNginx writes nginx.conf for s into a temporary directory and runs
// nginx until the test ends.
func startNginx(t *testing.T, s site) *proxy {
	t.Helper()
	bin := nginxBin(t)
	if s.location == "" {
		s.location = docBlock(t, "location")
	}
	// Not t.TempDir: nginx would read a "$" of the test's name in a path
	// as a variable.
	dir, err := os.MkdirTemp("", "tornago-nginx-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	location := replace(t, s.location, docUpstream, "proxy_pass http://"+s.upstream+";")
	snippet := filepath.Join(dir, "tornago.conf")
	require.NoError(t, os.WriteFile(snippet, []byte(location), 0o644))

	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		p := &proxy{addr: testenv.FreeAddr(t), dir: dir}
		var tlsServer string
		if s.tls != nil {
			p.tlsAddr = testenv.FreeAddr(t)
			tlsServer = docBlock(t, "tls-server")
			tlsServer = replace(t, tlsServer, docTLSListen, "listen "+p.tlsAddr+" ssl;")
			tlsServer = replace(t, tlsServer, docTLSCert, s.tls.certFile)
			tlsServer = replace(t, tlsServer, docTLSKey, s.tls.keyFile)
			tlsServer = replace(t, tlsServer, docInclude, snippet)
		}
		conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        include %[3]s;
    }
%[4]s
}
`, dir, p.addr, snippet, tlsServer)
		confFile := filepath.Join(dir, "nginx.conf")
		require.NoError(t, os.WriteFile(confFile, []byte(conf), 0o644))
		if lastErr = runNginx(t, bin, dir, confFile, p); lastErr == nil {
			return p
		}
	}
	t.Fatal(lastErr)
	return nil
}

// runNginx starts nginx and waits until it accepts connections.
func runNginx(t *testing.T, bin, dir, conf string, p *proxy) error {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range []string{p.addr, p.tlsAddr} {
		for addr != "" {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				exited <- err
				stop()
				return fmt.Errorf("nginx exited (%v): %s%s", err, out.String(), log)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				stop()
				return errors.New("nginx did not listen within 10 s")
			}
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", log)
		}
	})
	return nil
}

// serveApp serves app on a loopback port until the test ends.
func serveApp(t *testing.T, app *tornago.Application) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, app.Shutdown(ctx))
		require.NoError(t, <-served)
	})
	return l.Addr().String()
}

// echoSocket echoes messages and counts closes.
type echoSocket struct {
	tornago.WebSocketHandler
	closed chan<- struct{}
}

func (h *echoSocket) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }

func (h *echoSocket) OnClose() {
	if h.closed != nil {
		h.closed <- struct{}{}
	}
}

// whoAmI writes what tornago believes about the client.
type whoAmI struct{ tornago.RequestHandler }

func (h *whoAmI) Get(args ...string) error {
	return h.Write(h.RemoteIP() + " " + h.Protocol() + " " + h.Host())
}

// newEchoApp is a tornago application with /ws (echo) and /who.
func newEchoApp(t *testing.T, settings tornago.Settings, closed chan<- struct{}) *tornago.Application {
	t.Helper()
	settings.Logger = slog.New(slog.DiscardHandler)
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &echoSocket{closed: closed} }},
		{Pattern: `/who`, Handler: func() tornago.Handler { return &whoAmI{} }},
	}, settings)
	require.NoError(t, err)
	return app
}

// testCert is a self-signed certificate for 127.0.0.1 and localhost, as
// PEM files in a temporary directory.
type testCert struct {
	certFile, keyFile string
	roots             *x509.CertPool
}

func newTestCert(t *testing.T) *testCert {
	t.Helper()
	c := testenv.NewCert(t)
	certFile, keyFile := c.WriteFiles(t, t.TempDir())
	return &testCert{certFile: certFile, keyFile: keyFile, roots: c.Roots}
}
