package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/sshca"
)

// credentialServer is a gateway whose lockbox-credential verifies the
// bearer token with the secret, and answers a requester of tenant contoso
// with a certificate the CA signs for the key posted (or, with other set,
// for another key), or with status when it is set.
type credentialServer struct {
	t      *testing.T
	secret []byte
	ca     *sshca.CA
	status int           // answer this status instead, when set
	other  ssh.PublicKey // certify this key instead of the one posted, when set
	got    []lockbox.CredentialInput
	by     []string
}

func (s *credentialServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/function/lockbox-credential" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":{"code":"NotFound"}}`, http.StatusNotFound)
		return
	}
	v := auth.NewVerifier(nil, [][]byte{s.secret}, "", "", time.Now)
	p, err := v.Authenticate(r.Header, nil, lockbox.KindUser)
	if err != nil || p.TenantID != "contoso" || !slices.Contains(p.Roles, lockbox.RoleRequester) {
		http.Error(w, `{"error":{"code":"Unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	var in lockbox.CredentialInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, `{"error":{"code":"InvalidRequest"}}`, http.StatusBadRequest)
		return
	}
	s.got, s.by = append(s.got, in), append(s.by, p.Subject)
	if s.status != 0 {
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, `{"error":{"code":"GrantNotLive","message":"the grant is not live","currentStatus":"Revoked"}}`)
		return
	}
	key, err := sshca.ParseUserKey(in.PublicKey)
	if err != nil {
		http.Error(w, `{"error":{"code":"InvalidRequest"}}`, http.StatusBadRequest)
		return
	}
	if s.other != nil {
		key = s.other
	}
	now := time.Now().Truncate(time.Second)
	keyID := in.TenantID + "/" + in.RequestID + "/" + p.Subject
	cert, err := s.ca.Sign(sshca.Request{PublicKey: key, Serial: 7, KeyID: keyID, Principals: []string{"vm-1"},
		ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), Extensions: []string{"permit-pty"}})
	if err != nil {
		s.t.Error(err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"certificate": strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))) + " " + keyID,
		"serial": 7, "keyId": keyID, "principals": []string{"vm-1"}, "validAfter": now.Add(-time.Minute), "validBefore": now.Add(time.Hour)})
}

// newCredentialServer starts a credentialServer with a new CA, and a
// secrets folder holding its token secret.
func newCredentialServer(t *testing.T) (*credentialServer, *httptest.Server, string) {
	t.Helper()
	caKey, err := sshca.NewKey("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sshca.Parse(caKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &credentialServer{t: t, secret: []byte("a-test-jwt-secret-of-enough-bytes"), ca: ca}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, config.SecretJWT), append(s.secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, srv, secrets
}

// newKey writes an Ed25519 key pair as ssh-keygen does (KEY and KEY.pub)
// into a new folder and returns KEY's path and the public key.
func newKey(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "eng-7@laptop")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " eng-7@laptop\n"
	if err := os.WriteFile(path+".pub", []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// readCert reads the certificate file ssh-cert wrote.
func readCert(t *testing.T, path string) *ssh.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the certificate file: %v", err)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatalf("the certificate file does not parse: %v\n%s", err, b)
	}
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		t.Fatalf("the file holds a %s, not a certificate", key.Type())
	}
	return cert
}

// ssh-cert posts the engineer's public key with their token, and writes
// the certificate Lockbox answers next to the key as <key>-cert.pub, where
// ssh looks for it, whether the key is named by its private or its public
// file; the token is minted for -sub, or read from -token-file (or stdin),
// or from LOCKBOX_TOKEN.
func TestSSHCert(t *testing.T) {
	s, srv, secrets := newCredentialServer(t)
	tok, err := auth.Mint(s.secret, auth.NewClaims("eng-9", "contoso", []string{string(lockbox.RoleRequester)}, time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		args   []string
		env    func(string) string
		stdin  string
		pubArg bool // name the key by its .pub file
		by     string
	}{
		{name: "minted for -sub", args: []string{"-sub", "eng-7", "-secrets", secrets}, env: noEnv, by: "eng-7"},
		{name: "the .pub named", args: []string{"-sub", "eng-7", "-secrets", secrets}, env: noEnv, pubArg: true, by: "eng-7"},
		{name: "-token-file", args: []string{"-token-file", tokenFile}, env: noEnv, by: "eng-9"},
		{name: "-token-file -", args: []string{"-token-file", "-"}, env: noEnv, stdin: tok + "\n", by: "eng-9"},
		{name: "LOCKBOX_TOKEN", env: func(k string) string {
			if k == tokenEnv {
				return tok
			}
			return ""
		}, by: "eng-9"},
		{name: "OPENFAAS_URL", args: []string{"-sub", "eng-7", "-secrets", secrets}, env: func(k string) string {
			if k == "OPENFAAS_URL" {
				return srv.URL
			}
			return ""
		}, by: "eng-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, pub := newKey(t)
			arg := key
			if tc.pubArg {
				arg = key + ".pub"
			}
			args := append([]string{"-tenant", "contoso", "-request", "r-1", "-key", arg}, tc.args...)
			if tc.name != "OPENFAAS_URL" {
				args = append(args, "-gateway", srv.URL)
			}
			var out bytes.Buffer
			if err := sshCert(args, tc.env, strings.NewReader(tc.stdin), &out); err != nil {
				t.Fatalf("ssh-cert: %v", err)
			}
			cert := readCert(t, key+"-cert.pub")
			if !bytes.Equal(cert.Key.Marshal(), pub.Marshal()) {
				t.Error("the certificate is not of the engineer's key")
			}
			if got, want := cert.KeyId, "contoso/r-1/"+tc.by; got != want {
				t.Errorf("key id %q, want %q (the token's subject)", got, want)
			}
			last := s.got[len(s.got)-1]
			if last.TenantID != "contoso" || last.RequestID != "r-1" || !strings.HasPrefix(last.PublicKey, "ssh-ed25519 ") {
				t.Errorf("posted %+v", last)
			}
			if strings.Contains(last.PublicKey, "PRIVATE") {
				t.Error("the private key was sent")
			}
			if got := out.String(); !strings.Contains(got, key+"-cert.pub") || !strings.Contains(got, "vm-1") {
				t.Errorf("printed %q, want the file and the principals", got)
			}
			info, err := os.Stat(key + "-cert.pub")
			if err != nil || info.Mode().Perm() != 0o644 {
				t.Errorf("the certificate file: %v, mode %v", err, info.Mode())
			}
		})
	}
}

// A refusal, a certificate of another key, an answer that is no
// certificate: an error, and no certificate file (an earlier one is left
// as it was).
func TestSSHCertRefused(t *testing.T) {
	s, srv, secrets := newCredentialServer(t)
	noEnv := func(string) string { return "" }
	run := func(key string, extra ...string) error {
		args := append([]string{"-gateway", srv.URL, "-tenant", "contoso", "-request", "r-1", "-key", key, "-sub", "eng-7", "-secrets", secrets}, extra...)
		return sshCert(args, noEnv, strings.NewReader(""), io.Discard)
	}

	key, _ := newKey(t)
	s.status = http.StatusForbidden
	err := run(key)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "GrantNotLive") {
		t.Errorf("a 403: got %v, want an error naming the status and the code", err)
	}
	if _, err := os.Stat(key + "-cert.pub"); !os.IsNotExist(err) {
		t.Errorf("a refusal wrote a certificate file (%v)", err)
	}

	s.status = 0
	other, _ := newKey(t)
	otherLine, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	s.other, _, _, _, err = ssh.ParseAuthorizedKey(otherLine)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key+"-cert.pub", []byte("the earlier certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(key); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Errorf("a certificate of another key: got %v", err)
	}
	if b, _ := os.ReadFile(key + "-cert.pub"); string(b) != "the earlier certificate\n" {
		t.Errorf("the earlier certificate file was replaced by %q", b)
	}
	s.other = nil

	// A wrong token secret: Lockbox answers 401.
	if err := os.WriteFile(filepath.Join(secrets, config.SecretJWT), []byte("another-secret-of-enough-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(key); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a token Lockbox refuses: got %v, want an error naming 401", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(key))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
}

// Bad invocations are errors before anything is sent.
func TestSSHCertUsage(t *testing.T) {
	s, srv, secrets := newCredentialServer(t)
	key, _ := newKey(t)
	noPub := filepath.Join(t.TempDir(), "id_none")
	tokenEnvSet := func(k string) string {
		if k == tokenEnv {
			return "x"
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	for name, tc := range map[string]struct {
		args []string
		env  func(string) string
		want string
	}{
		"no tenant":          {[]string{"-request", "r-1", "-key", key, "-sub", "eng-7"}, noEnv, "-tenant"},
		"no request":         {[]string{"-tenant", "contoso", "-key", key, "-sub", "eng-7"}, noEnv, "-request"},
		"no key":             {[]string{"-tenant", "contoso", "-request", "r-1", "-sub", "eng-7"}, noEnv, "-key"},
		"no token":           {[]string{"-tenant", "contoso", "-request", "r-1", "-key", key}, noEnv, tokenEnv},
		"two token sources":  {[]string{"-tenant", "contoso", "-request", "r-1", "-key", key, "-sub", "eng-7", "-token-file", key}, tokenEnvSet, "not both"},
		"no public key file": {[]string{"-tenant", "contoso", "-request", "r-1", "-key", noPub, "-sub", "eng-7"}, noEnv, "ssh-keygen -y"},
		"an argument":        {[]string{"-tenant", "contoso", "-request", "r-1", "-key", key, "-sub", "eng-7", "extra"}, noEnv, "flags only"},
		"an unknown flag":    {[]string{"-tenant", "contoso", "-request", "r-1", "-key", key, "-user", "eng-7"}, noEnv, "-user"},
		"an empty token":     {[]string{"-tenant", "contoso", "-request", "r-1", "-key", key, "-token-file", "-"}, noEnv, "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"-gateway", srv.URL, "-secrets", secrets}, tc.args...)
			err := sshCert(args, tc.env, strings.NewReader(" \n"), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if len(s.got) != 0 {
		t.Errorf("%d calls reached lockbox-credential", len(s.got))
	}
	// A public key Lockbox would refuse (not one line) is refused here.
	if err := os.WriteFile(key+".pub", []byte("ssh-rsa AAAA\nssh-ed25519 AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sshCert([]string{"-gateway", srv.URL, "-secrets", secrets, "-tenant", "contoso", "-request", "r-1", "-key", key, "-sub", "eng-7"},
		noEnv, strings.NewReader(""), io.Discard); err == nil {
		t.Error("a malformed public key: no error")
	}
}
