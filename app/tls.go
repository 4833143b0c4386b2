package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shardgate/shardgate/link"
)

// certReloader serves the listeners' certificate and swaps it atomically
// when Reload reads the files again (SIGHUP), so a renewed certificate is
// picked up without dropping a connection. Handshakes in progress keep the
// certificate they started with.
type certReloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the certificate and key files; on error the certificate in
// use stays.
func (r *certReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cur.Store(&c)
	return nil
}

func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// serverTLS picks the TLS config of each connection by its server name:
// the link config (TLS 1.3, cluster client certificate required) for node
// links, the public certificate for everyone else.
func serverTLS(public *certReloader, lt *link.TLS) *tls.Config {
	var pub *tls.Config
	if public != nil {
		pub = public.config()
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if lt != nil && hello.ServerName == link.ServerName {
				return lt.Server, nil
			}
			if pub == nil {
				return nil, errors.New("this port serves TLS to node links only")
			}
			return pub, nil
		},
	}
}

// linkTLS is the node links' TLS: from the --link-tls-* files, else derived
// from the cluster key, else none (loopback development).
func linkTLS(cfg Config, clusterKey []byte) (*link.TLS, error) {
	switch {
	case cfg.LinkTLSCert != "":
		return link.FileTLS(cfg.LinkTLSCert, cfg.LinkTLSKey, cfg.LinkTLSCA)
	case len(clusterKey) > 0:
		return link.ClusterTLS(clusterKey, cfg.Name)
	}
	return nil, nil
}

// config is the server config of both listeners of both listeners for clients and
// operators. HTTP/1.1 only: WebSocket upgrades need it.
func (r *certReloader) config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
