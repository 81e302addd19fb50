// Command tlogcheck verifies capledger's Merkle proofs with code no one at capledger wrote:
// github.com/transparency-dev/merkle (RFC 6962/9162 hasher and proof verification).
//
// It reads one JSON document on standard input:
//
//	{"inclusion":   [{"index", "size", "leaf", "proof": [hex], "root", "valid"}],
//	 "consistency": [{"old_size", "new_size", "proof": [hex], "old_root", "new_root", "valid"}]}
//
// (hashes in hex) and checks that each proof verifies exactly when "valid" says it should.
// It prints one line per disagreement and a last line "N passed, M failed"; it exits 1 if any
// case failed.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

type inclusion struct {
	Index uint64   `json:"index"`
	Size  uint64   `json:"size"`
	Leaf  string   `json:"leaf"`
	Proof []string `json:"proof"`
	Root  string   `json:"root"`
	Valid bool     `json:"valid"`
}

type consistency struct {
	OldSize uint64   `json:"old_size"`
	NewSize uint64   `json:"new_size"`
	Proof   []string `json:"proof"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Valid   bool     `json:"valid"`
}

type cases struct {
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

func decode(text string) []byte {
	raw, err := hex.DecodeString(text)
	if err != nil {
		fmt.Fprintf(os.Stderr, "not hex: %q\n", text)
		os.Exit(2)
	}
	return raw
}

func decodeAll(texts []string) [][]byte {
	nodes := make([][]byte, len(texts))
	for i, text := range texts {
		nodes[i] = decode(text)
	}
	return nodes
}

func main() {
	var input cases
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintf(os.Stderr, "bad input: %v\n", err)
		os.Exit(2)
	}
	hasher := rfc6962.DefaultHasher
	passed, failed := 0, 0
	judge := func(what string, valid bool, err error) {
		if (err == nil) == valid {
			passed++
			return
		}
		failed++
		fmt.Printf("FAIL %s: expected valid=%v, got error %v\n", what, valid, err)
	}
	for _, c := range input.Inclusion {
		err := proof.VerifyInclusion(hasher, c.Index, c.Size, decode(c.Leaf), decodeAll(c.Proof), decode(c.Root))
		judge(fmt.Sprintf("inclusion of %d in %d", c.Index, c.Size), c.Valid, err)
	}
	for _, c := range input.Consistency {
		err := proof.VerifyConsistency(hasher, c.OldSize, c.NewSize, decodeAll(c.Proof), decode(c.OldRoot), decode(c.NewRoot))
		judge(fmt.Sprintf("consistency of %d with %d", c.OldSize, c.NewSize), c.Valid, err)
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
