package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/sshca"
)

// An engineer's key is written as OpenSSH writes it: the CA's parser reads
// it back as the same Ed25519 key, and its fingerprint is the SHA-256 of
// the wire form the parser marshals.
func TestEngineerKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k := newEngineerKey(pub, "eng-1@bench")
	parsed, err := sshca.ParseUserKey(k.line)
	require.NoError(t, err)
	assert.Equal(t, "ssh-ed25519", parsed.Type())
	wire := parsed.Marshal()
	assert.Equal(t, []byte(pub), wire[len(wire)-ed25519.PublicKeySize:])
	sum := sha256.Sum256(wire)
	assert.Equal(t, "SHA256:"+base64.RawStdEncoding.EncodeToString(sum[:]), k.fingerprint)

	_, err = sshca.ParseUserKey(startupKey())
	assert.NoError(t, err, "the start-up probe's key")
}
