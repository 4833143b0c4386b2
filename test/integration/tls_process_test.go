package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial to certFile/keyFile (through a rename, as renewal tools do)
// and returns it for the client's trust pool.
func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestProcessTLSReloadOnSIGHUP: a node process serving https:// and wss://
// picks up a renewed certificate on SIGHUP, without a restart.
func TestProcessTLSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := x509.NewCertPool()
	pool.AddCert(writeSelfSigned(t, certFile, keyFile, 1))
	p := &proc{name: "t1", dataDir: filepath.Join(dir, "t1"), gossip: testutil.FreeAddr(t),
		ws: testutil.FreeAddr(t), admin: testutil.FreeAddr(t),
		extra: []string{"--insecure", "--tls-cert", certFile, "--tls-key", keyFile,
			"--cluster-key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}
	p.log, _ = os.Create(filepath.Join(dir, "t1.log"))
	p.start(t)
	defer p.kill()

	serial := func() int64 {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", p.admin, &tls.Config{RootCAs: pool})
		if err != nil {
			return 0
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	testutil.Eventually(t, 30*time.Second, "the node serves its first certificate", func() bool { return serial() == 1 })

	pool.AddCert(writeSelfSigned(t, certFile, keyFile, 2))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the renewed certificate after SIGHUP", func() bool { return serial() == 2 })
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the node died on SIGHUP: %v", err)
	}
}
