package tornago

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// ListenAndServeTLS is ListenAndServe over TLS, for https:// and wss://
// without a terminating proxy: certFile and keyFile are PEM files as
// tls.LoadX509KeyPair reads them (certFile may hold the chain after the
// leaf). addr "" means ":https". The files are read once; restart (or use
// ServeTLS with GetCertificate) to pick up a renewed certificate.
func (a *Application) ListenAndServeTLS(addr, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tornago: %w", err)
	}
	if addr == "" {
		addr = ":https"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("tornago: %w", err)
	}
	return a.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{cert}})
}

// ServeTLS is Serve over TLS with cfg, which must provide a certificate
// (Certificates or GetCertificate); it closes l. The server has Serve's
// limits, the TLS handshake included in the 10 s allowed for request
// headers. By default HTTP/2 ("h2") is taken out of cfg.NextProtos and
// "http/1.1" put in: without RFC 8441 a WebSocket handshake is an
// HTTP/1.1 upgrade, which a browser that negotiated HTTP/2 could not make
// on that connection. With Settings.HTTP2 "h2" is offered first, and
// WebSockets come as extended CONNECT streams on it. Other protocols
// stay, such as autocert's "acme-tls/1".
func (a *Application) ServeTLS(l net.Listener, cfg *tls.Config) error {
	tl, err := a.tlsListener(l, cfg)
	if err != nil {
		return err
	}
	return a.Serve(tl)
}

// RunListenerTLS is RunListener over TLS: ServeTLS's protocols and
// limits, Run's lifetime (it serves until ctx ends, then shuts down).
func (a *Application) RunListenerTLS(ctx context.Context, l net.Listener, cfg *tls.Config) error {
	tl, err := a.tlsListener(l, cfg)
	if err != nil {
		return err
	}
	return a.RunListener(ctx, tl)
}

// tlsListener wraps l in TLS with cfg, offering the protocols ServeTLS
// describes; on error it closes l.
func (a *Application) tlsListener(l net.Listener, cfg *tls.Config) (net.Listener, error) {
	if cfg == nil || len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		_ = l.Close()
		return nil, errors.New("tornago: ServeTLS needs a tls.Config with a certificate")
	}
	cfg = cfg.Clone()
	protos := []string{"http/1.1"}
	if a.settings.HTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	for _, p := range cfg.NextProtos {
		if p != "h2" && p != "http/1.1" {
			protos = append(protos, p)
		}
	}
	cfg.NextProtos = protos
	return tls.NewListener(l, cfg), nil
}
