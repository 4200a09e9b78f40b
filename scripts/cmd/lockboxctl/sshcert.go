package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/sshca"
)

// tokenEnv is the environment variable ssh-cert reads the engineer's token
// from when neither -token-file nor -sub is given.
const tokenEnv = "LOCKBOX_TOKEN"

// mintedTTL is the lifetime of the token ssh-cert mints with -sub: long
// enough for the one call.
const mintedTTL = 10 * time.Minute

// credential is lockbox-credential's answer (the fields ssh-cert reads).
type credential struct {
	Certificate string    `json:"certificate"`
	KeyID       string    `json:"keyId"`
	Principals  []string  `json:"principals"`
	ValidBefore time.Time `json:"validBefore"`
}

// sshCert asks lockbox-credential for an OpenSSH certificate of the
// engineer's public key under the live grant of a request, and writes it as
// <key>-cert.pub next to the key, where ssh finds it. The key is named by
// its private or its public (.pub) file; only the public one is read. The
// engineer's token comes from -token-file (a file, or - for stdin), from
// LOCKBOX_TOKEN, or with -sub is minted from the secrets folder's
// lockbox-jwt-secret with the role lockbox.requester (a local stack).
// Nothing is written unless Lockbox answers 200 with a certificate of that
// very key.
func sshCert(args []string, getenv func(string) string, stdin io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("ssh-cert", flag.ContinueOnError)
	dir := fs.String("secrets", ".secrets", "folder of secret files (with -sub)")
	openfaasURL := getenv("OPENFAAS_URL")
	if openfaasURL == "" {
		openfaasURL = "http://127.0.0.1:8080"
	}
	gateway := fs.String("gateway", openfaasURL, "the gateway (OPENFAAS_URL)")
	tenant := fs.String("tenant", "", "the request's tenant id")
	requestID := fs.String("request", "", "the request id of the live grant")
	keyPath := fs.String("key", "", "the engineer's SSH key: its private key file or its .pub")
	tokenFile := fs.String("token-file", "", "a file holding the engineer's token (- for stdin)")
	sub := fs.String("sub", "", "mint the engineer's token for this user id from the secrets folder")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("ssh-cert: %w", err)
	}
	switch {
	case fs.NArg() != 0:
		return fmt.Errorf("ssh-cert takes flags only, not %q", fs.Arg(0))
	case *tenant == "" || *requestID == "" || *keyPath == "":
		return errors.New("ssh-cert needs -tenant, -request and -key")
	}
	pubPath, certPath := keyFiles(*keyPath)
	line, err := os.ReadFile(pubPath)
	if err != nil {
		return fmt.Errorf("read the public key: %w (ssh-keygen -y -f KEY > KEY.pub writes it)", err)
	}
	publicKey := strings.TrimSpace(string(line))
	key, err := sshca.ParseUserKey(publicKey)
	if err != nil {
		return fmt.Errorf("%s: %w", pubPath, err)
	}
	token, err := engineerToken(*tokenFile, *sub, *tenant, *dir, getenv, stdin)
	if err != nil {
		return err
	}

	body, err := json.Marshal(lockbox.CredentialInput{TenantID: *tenant, RequestID: *requestID, PublicKey: publicKey})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(*gateway, "/")+"/function/lockbox-credential", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask lockbox-credential: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read lockbox-credential's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lockbox-credential answered %s: %s", resp.Status, bytes.TrimSpace(answer))
	}
	var c credential
	if err := json.Unmarshal(answer, &c); err != nil {
		return fmt.Errorf("lockbox-credential's answer: %w", err)
	}
	if err := certifies(c.Certificate, key); err != nil {
		return fmt.Errorf("lockbox-credential's answer: %w", err)
	}
	if err := writeFileAtomic(certPath, []byte(c.Certificate+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s, principals %s, valid until %s\n", certPath, c.KeyID, strings.Join(c.Principals, ","),
		c.ValidBefore.UTC().Format(time.RFC3339))
	return nil
}

// keyFiles returns the public key file and the certificate file of a key
// named by its private or its public file, as ssh and ssh-keygen name them:
// id_ed25519 → id_ed25519.pub, id_ed25519-cert.pub.
func keyFiles(path string) (pub, cert string) {
	base := strings.TrimSuffix(path, ".pub")
	return base + ".pub", base + "-cert.pub"
}

// engineerToken returns the engineer's bearer token from exactly one
// source: the file, the subject to mint a requester's token for, or the
// environment.
func engineerToken(file, sub, tenant, secrets string, getenv func(string) string, stdin io.Reader) (string, error) {
	env := getenv(tokenEnv)
	switch {
	case file != "" && sub != "":
		return "", errors.New("ssh-cert takes -token-file or -sub, not both")
	case file != "":
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return "", fmt.Errorf("read the token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("the token file %s is empty", file)
		}
		return tok, nil
	case sub != "":
		keys, err := config.ReadSecretLines(filepath.Clean(secrets), config.SecretJWT)
		if err != nil {
			return "", err
		}
		return auth.Mint(keys[0], auth.NewClaims(sub, tenant, []string{string(lockbox.RoleRequester)}, time.Now(), mintedTTL))
	case env != "":
		return strings.TrimSpace(env), nil
	}
	return "", fmt.Errorf("ssh-cert needs the engineer's token: -token-file FILE, %s, or -sub ID to mint one from the secrets folder", tokenEnv)
}

// certifies checks that line is an OpenSSH user certificate of key.
func certifies(line string, key ssh.PublicKey) error {
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return fmt.Errorf("the certificate does not parse: %w", err)
	}
	cert, ok := parsed.(*ssh.Certificate)
	switch {
	case !ok:
		return fmt.Errorf("a %s key, not a certificate", parsed.Type())
	case cert.CertType != ssh.UserCert:
		return errors.New("not a user certificate")
	case !bytes.Equal(cert.Key.Marshal(), key.Marshal()):
		return errors.New("the certificate is for another key than the one sent")
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so that ssh never reads half a certificate.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing to remove
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
