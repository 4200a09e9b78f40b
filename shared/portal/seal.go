package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size of the portal's keys (secret lockbox-portal-key):
// AES-256.
const KeySize = 32

// errUnsealed marks a sealed value that no key opens: tampered with, cut,
// or sealed under a key no longer configured.
var errUnsealed = errors.New("the sealed value does not open")

// seal encrypts and authenticates plain under key with AES-256-GCM (a
// random 96-bit nonce, prepended) bound to purpose, and returns it as
// base64url without padding: a value a cookie or a session may carry.
func seal(key []byte, purpose string, plain []byte) (string, error) {
	aead, err := gcm(key)
	if err != nil {
		return "", err
	}
	// #nosec G407 -- the AEAD draws a random nonce itself (NewGCMWithRandomNonce) and prepends it.
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nil, plain, []byte(purpose))), nil
}

// unseal returns what seal sealed for purpose under one of keys (the
// first that opens it); errUnsealed when none does.
func unseal(keys [][]byte, purpose, sealed string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, errUnsealed
	}
	for _, key := range keys {
		aead, err := gcm(key)
		if err != nil {
			return nil, err
		}
		if plain, err := aead.Open(nil, nil, b, []byte(purpose)); err == nil {
			return plain, nil
		}
	}
	return nil, errUnsealed
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a portal key is %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("portal key: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sessionSealKey is the key a session's credential is sealed with: derived
// (HKDF-SHA256) from the session id, which only the browser's cookie holds
// (Redis keeps the id's SHA-256, from which it cannot be derived).
func sessionSealKey(id string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(id), nil, "lockbox portal session credential", KeySize)
	if err != nil { // only for a key length HKDF-SHA256 cannot give
		panic(err)
	}
	return k
}
