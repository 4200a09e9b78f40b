// Command lockboxctl signs webhook bodies and mints tokens with the secrets
// of a local Lockbox (.secrets/), for faas-cli invoke and curl, prints the
// public key auditors verify the audit archive's checkpoints with, and
// saves an engineer's SSH certificate for a live grant.
//
//	lockboxctl sign [-format faas-cli|curl] PAYLOAD
//	    prints the X-Lockbox-Timestamp and X-Lockbox-Signature headers for
//	    PAYLOAD (a body, or the raw query string of a GET) as -H arguments
//	lockboxctl token -sub ID -tenant TID -role ROLE [-role ROLE] [-ttl 1h]
//	    prints an HS256 bearer token
//	lockboxctl audit-pubkey [-secrets DIR]
//	    prints, in hex, the public key of the audit checkpoint signing key
//	    (lockbox-audit-signing-key): what auditors pass to auditverify -pubkey
//	lockboxctl send-fixture [-secrets DIR] [-gateway URL] SOURCE [created|updated|resolved]
//	    sends a ticketing vendor's example delivery to lockbox-intake/SOURCE,
//	    signed as the vendor signs it with the source's first secret
//	    (lockbox-intake-config), and prints the answer
//	lockboxctl ssh-cert [-gateway URL] -tenant TID -request ID -key KEY [-token-file FILE | -sub ID [-secrets DIR]]
//	    asks lockbox-credential for an OpenSSH certificate of KEY's public
//	    key under the request's live grant and writes it as KEY-cert.pub;
//	    the engineer's token from -token-file, LOCKBOX_TOKEN, or minted for
//	    -sub (a local stack)
package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sign":
		err = sign(os.Args[2:])
	case "token":
		err = token(os.Args[2:])
	case "audit-pubkey":
		err = auditPubkey(os.Args[2:], os.Stdout, os.Stderr)
	case "send-fixture":
		err = sendFixture(os.Args[2:], os.Getenv("OPENFAAS_URL"), os.Stdout)
	case "ssh-cert":
		err = sshCert(os.Args[2:], os.Getenv, os.Stdin, os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockboxctl:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: lockboxctl sign [-secrets DIR] [-format faas-cli|curl] PAYLOAD\n       lockboxctl token [-secrets DIR] -sub ID -tenant TID -role ROLE [-role ROLE] [-ttl 1h] [-iss I] [-aud A]\n       lockboxctl audit-pubkey [-secrets DIR]\n       lockboxctl send-fixture [-secrets DIR] [-gateway URL] SOURCE [created|updated|resolved]\n       lockboxctl ssh-cert [-gateway URL] -tenant TID -request ID -key KEY [-token-file FILE | -sub ID [-secrets DIR]]")
	os.Exit(2)
}

func sign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	dir := fs.String("secrets", ".secrets", "folder of secret files")
	format := fs.String("format", "faas-cli", "faas-cli (-H k=v) or curl (-H k:v)")
	_ = fs.Parse(args) // ExitOnError: it exits on a bad flag
	if fs.NArg() != 1 {
		return fmt.Errorf("sign takes exactly one PAYLOAD argument")
	}
	keys, err := config.ReadSecretLines(*dir, config.SecretWebhook)
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	sig := auth.Sign(keys[0], ts, []byte(fs.Arg(0))) // the current key
	sep := "="
	if *format == "curl" {
		sep = ":"
	}
	fmt.Printf("-H %s%s%d -H %s%s%s\n", auth.HeaderTimestamp, sep, ts, auth.HeaderSignature, sep, sig)
	return nil
}

type roles []string

func (r *roles) String() string     { return strings.Join(*r, ",") }
func (r *roles) Set(v string) error { *r = append(*r, v); return nil }

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	dir := fs.String("secrets", ".secrets", "folder of secret files")
	sub := fs.String("sub", "", "user id (sub)")
	tid := fs.String("tenant", "", "tenant id (tid)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	iss := fs.String("iss", "", "issuer (iss), when the functions check one")
	aud := fs.String("aud", "", "audience (aud), when the functions check one")
	amr := fs.String("amr", "", "how the person signed in (amr, comma-separated, e.g. pwd,mfa): the provider's policy checks it")
	isolated := fs.Bool("isolated", false, "claim lockbox_isolated: true (an isolated identity, for the provider's policy)")
	var rs roles
	fs.Var(&rs, "role", "role (repeatable): lockbox.approver, lockbox.reader, lockbox.requester, lockbox.operator, lockbox.provider-approver")
	_ = fs.Parse(args) // ExitOnError: it exits on a bad flag
	if *sub == "" || *tid == "" {
		return fmt.Errorf("token needs -sub and -tenant")
	}
	keys, err := config.ReadSecretLines(filepath.Clean(*dir), config.SecretJWT)
	if err != nil {
		return err
	}
	c := auth.NewClaims(*sub, *tid, rs, time.Now(), *ttl)
	c.Issuer = *iss
	if *amr != "" {
		c.AMR = strings.Split(*amr, ",")
	}
	c.Isolated = *isolated
	if *aud != "" {
		c.Audience = []string{*aud}
	}
	tok, err := auth.Mint(keys[0], c) // the current key
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// auditPubkey prints the public key of the audit signing key in hex on out,
// and its key id on info.
func auditPubkey(args []string, out, info io.Writer) error {
	fs := flag.NewFlagSet("audit-pubkey", flag.ExitOnError)
	dir := fs.String("secrets", ".secrets", "folder of secret files")
	_ = fs.Parse(args) // ExitOnError: it exits on a bad flag
	if fs.NArg() != 0 {
		return fmt.Errorf("audit-pubkey takes no arguments")
	}
	b, err := config.ReadSecret(filepath.Clean(*dir), config.SecretAuditSigning)
	if err != nil {
		return err
	}
	key, err := audit.ParseSigningKey(b)
	if err != nil {
		return fmt.Errorf("secret %s: %w", config.SecretAuditSigning, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	fmt.Fprintln(out, hex.EncodeToString(pub))
	fmt.Fprintf(info, "key %s: give this public key to auditors (auditverify -pubkey)\n", audit.KeyID(pub))
	return nil
}
