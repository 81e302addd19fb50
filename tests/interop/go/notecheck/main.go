// Command notecheck opens and makes C2SP signed notes and checkpoints with code no one at
// capledger wrote: golang.org/x/mod/sumdb/note (note.Open, note.Sign, note.GenerateKey),
// github.com/transparency-dev/formats/note (NewVerifier: Ed25519 note keys, and
// cosignature/v1 keys of type 0x04) and github.com/transparency-dev/formats/log
// (ParseCheckpoint).
//
// It reads one JSON document on standard input:
//
//	{"open":     [{"note", "vkeys": [log's key, others...], "origin"}],
//	 "generate": [{"name", "text"}]}
//
// and writes one JSON document: for each "open" its verdict (ok, error, the note's text, the
// names of the verified signatures, the checkpoint's size and base64 root as ParseCheckpoint
// read them); for each "generate" a fresh key pair (skey, vkey) and the note of text it signs.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type openCase struct {
	Note   string   `json:"note"`
	VKeys  []string `json:"vkeys"`
	Origin string   `json:"origin"`
}

type generateCase struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type verdict struct {
	OK       bool     `json:"ok"`
	Error    string   `json:"error,omitempty"`
	Text     string   `json:"text,omitempty"`
	SignedBy []string `json:"signed_by,omitempty"`
	Size     uint64   `json:"size,omitempty"`
	Root     string   `json:"root,omitempty"`
}

type generated struct {
	SKey string `json:"skey"`
	VKey string `json:"vkey"`
	Note string `json:"note"`
}

func open(c openCase) verdict {
	var verifiers []note.Verifier
	for _, vkey := range c.VKeys {
		v, err := fnote.NewVerifier(vkey)
		if err != nil {
			return verdict{Error: fmt.Sprintf("verifier key: %v", err)}
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open([]byte(c.Note), note.VerifierList(verifiers...))
	if err != nil {
		return verdict{Error: fmt.Sprintf("note.Open: %v", err)}
	}
	out := verdict{Text: n.Text}
	for _, sig := range n.Sigs {
		out.SignedBy = append(out.SignedBy, fmt.Sprintf("%s+%08x", sig.Name, sig.Hash))
	}
	checkpoint, _, _, err := log.ParseCheckpoint([]byte(c.Note), c.Origin, verifiers[0], verifiers[1:]...)
	if err != nil {
		out.Error = fmt.Sprintf("log.ParseCheckpoint: %v", err)
		return out
	}
	out.OK = true
	out.Size = checkpoint.Size
	out.Root = base64.StdEncoding.EncodeToString(checkpoint.Hash)
	return out
}

func generate(c generateCase) (generated, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, c.Name)
	if err != nil {
		return generated{}, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return generated{}, err
	}
	msg, err := note.Sign(&note.Note{Text: c.Text}, signer)
	if err != nil {
		return generated{}, err
	}
	return generated{SKey: skey, VKey: vkey, Note: string(msg)}, nil
}

func main() {
	var input struct {
		Open     []openCase     `json:"open"`
		Generate []generateCase `json:"generate"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintf(os.Stderr, "bad input: %v\n", err)
		os.Exit(2)
	}
	var output struct {
		Open     []verdict   `json:"open"`
		Generate []generated `json:"generate"`
	}
	for _, c := range input.Open {
		output.Open = append(output.Open, open(c))
	}
	for _, c := range input.Generate {
		g, err := generate(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "generate: %v\n", err)
			os.Exit(2)
		}
		output.Generate = append(output.Generate, g)
	}
	if err := json.NewEncoder(os.Stdout).Encode(output); err != nil {
		os.Exit(2)
	}
}
