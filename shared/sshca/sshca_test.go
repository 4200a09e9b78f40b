package sshca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"lockbox.dev/shared/sshca"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := sshca.NewKey("test")
	require.NoError(t, err)
	return k
}

// A secret of two keys: the first signs, both are trusted.
func TestRotation(t *testing.T) {
	first, second := newKey(t), newKey(t)
	ca, err := sshca.Parse(append(append([]byte{}, first...), second...))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(ca.PublicKeys()), "\n")
	require.Len(t, lines, 2)
	user, _ := userKey(t)
	now := time.Now()
	cert, err := ca.Sign(sshca.Request{PublicKey: user, Serial: 7, KeyID: "contoso/req-1/eng-7", Principals: []string{"vm-1", "vm-2"},
		ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), Extensions: []string{"permit-pty"}})
	require.NoError(t, err)
	signer, _, _, _, err := ssh.ParseAuthorizedKey([]byte(lines[0]))
	require.NoError(t, err)
	assert.Equal(t, signer.Marshal(), cert.SignatureKey.Marshal(), "the first key signs")

	checker := ssh.CertChecker{IsUserAuthority: func(auth ssh.PublicKey) bool { return string(auth.Marshal()) == string(signer.Marshal()) }}
	require.NoError(t, checker.CheckCert("vm-2", cert))
	assert.Error(t, checker.CheckCert("vm-3", cert), "a principal the certificate does not name")
	assert.Equal(t, map[string]string{"permit-pty": ""}, cert.Extensions)
	assert.Empty(t, cert.CriticalOptions)
	assert.Equal(t, uint32(ssh.UserCert), cert.CertType)
}

func TestParseRefusals(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsaBlock, err := ssh.MarshalPrivateKey(rsaKey, "rsa")
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	for name, secret := range map[string][]byte{
		"empty":          nil,
		"an RSA key":     pem.EncodeToMemory(rsaBlock),
		"a PKCS#8 block": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"trailing junk":  append(newKey(t), []byte("junk")...),
		"not PEM":        []byte("ssh-ed25519 AAAA"),
	} {
		_, err := sshca.Parse(secret)
		assert.Error(t, err, name)
	}
}

func userKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return pub, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

func TestParseUserKey(t *testing.T) {
	_, ecdsaLine := userKey(t)
	small, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	smallPub, err := ssh.NewPublicKey(&small.PublicKey)
	require.NoError(t, err)
	ca, err := sshca.Parse(newKey(t))
	require.NoError(t, err)
	caLine := strings.TrimSpace(ca.PublicKeys())
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(caLine))
	require.NoError(t, err)
	cert, err := ca.Sign(sshca.Request{PublicKey: pub, ValidBefore: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	for _, ok := range []string{ecdsaLine, caLine, caLine + " eng-7@laptop"} {
		_, err := sshca.ParseUserKey(ok)
		assert.NoError(t, err, ok)
	}
	for name, bad := range map[string]string{
		"empty":          "",
		"garbage":        "not a key",
		"two lines":      caLine + "\n" + ecdsaLine,
		"options":        `command="sh" ` + caLine,
		"RSA 2048":       strings.TrimSpace(string(ssh.MarshalAuthorizedKey(smallPub))),
		"a certificate":  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))),
		"truncated blob": caLine[:30],
	} {
		_, err := sshca.ParseUserKey(bad)
		assert.Error(t, err, name)
	}
}
