// Command tilecheck reads a log published in the C2SP tlog-tiles layout with code no one at
// capledger wrote: golang.org/x/mod/sumdb/tlog (TileHashReader, TreeHash, ProveRecord,
// CheckRecord, ProveTree, CheckTree), github.com/transparency-dev/formats (note.NewVerifier,
// log.ParseCheckpoint).
//
//	tilecheck DIR VKEY ORIGIN [OLD_SIZE...]
//
// It opens DIR/checkpoint with the log's verifier key, reads the tree's tiles through
// tlog.TileHashReader (which checks every tile it loads against the checkpoint's root), checks
// the root, proves and checks the inclusion of every entry of every entry bundle, and, for each
// OLD_SIZE, prints "root OLD_SIZE BASE64" and proves and checks the old tree's consistency
// with the checkpoint's. It prints one line per failure and a last line "N passed, M failed";
// it exits 1 if any check failed.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

// c2spPath is a tile's path in the C2SP layout: sumdb's without the height element.
func c2spPath(t tlog.Tile) string {
	path := t.Path()
	path = strings.Replace(path, fmt.Sprintf("tile/%d/", height), "tile/", 1)
	return path
}

// readFile reads a file of the layout from a directory, or from a URL (the log served over
// HTTP, e.g. http://127.0.0.1:8000/log) when dir starts with http:// or https://.
func readFile(dir, path string) ([]byte, error) {
	if strings.HasPrefix(dir, "http://") || strings.HasPrefix(dir, "https://") {
		response, err := http.Get(strings.TrimSuffix(dir, "/") + "/" + path)
		if err != nil {
			return nil, err
		}
		defer response.Body.Close()
		if response.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, response.Status)
		}
		return io.ReadAll(response.Body)
	}
	return os.ReadFile(filepath.Join(dir, path))
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return height }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		raw, err := readFile(d.dir, c2spPath(t))
		if err != nil {
			return nil, err
		}
		data[i] = raw
	}
	return data, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: tilecheck DIR|URL VKEY ORIGIN [OLD_SIZE...]")
		os.Exit(2)
	}
	dir, vkey, origin := os.Args[1], os.Args[2], os.Args[3]
	verifier, err := fnote.NewVerifier(vkey)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verifier key: %v\n", err)
		os.Exit(2)
	}
	raw, err := readFile(dir, "checkpoint")
	if err != nil {
		fmt.Fprintf(os.Stderr, "checkpoint: %v\n", err)
		os.Exit(2)
	}
	checkpoint, _, _, err := log.ParseCheckpoint(raw, origin, verifier)
	if err != nil {
		fmt.Fprintf(os.Stderr, "checkpoint: %v\n", err)
		os.Exit(2)
	}
	size := int64(checkpoint.Size)
	var root tlog.Hash
	copy(root[:], checkpoint.Hash)
	reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, dirTiles{dir})

	passed, failed := 0, 0
	check := func(what string, err error) {
		if err == nil {
			passed++
			return
		}
		failed++
		fmt.Printf("FAIL %s: %v\n", what, err)
	}

	treeHash, err := tlog.TreeHash(size, reader)
	if err == nil && treeHash != root {
		err = fmt.Errorf("tree hash %v, checkpoint root %v", treeHash, root)
	}
	check("the root from the tiles", err)

	for n := int64(0); n*256 < size; n++ {
		width := size - n*256
		if width > 256 {
			width = 256
		}
		bundle := tlog.Tile{H: height, L: 0, N: n, W: int(width)}
		path := strings.Replace(c2spPath(bundle), "tile/0/", "tile/entries/", 1)
		data, err := readFile(dir, path)
		if err != nil {
			check(path, err)
			continue
		}
		for i := int64(0); i < width; i++ {
			index := n*256 + i
			if len(data) < 2 || len(data) < 2+int(binary.BigEndian.Uint16(data)) {
				check(fmt.Sprintf("entry %d", index), fmt.Errorf("%s is cut short", path))
				break
			}
			length := int(binary.BigEndian.Uint16(data))
			entry := data[2 : 2+length]
			data = data[2+length:]
			proof, err := tlog.ProveRecord(size, index, reader)
			if err == nil {
				err = tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(entry))
			}
			check(fmt.Sprintf("inclusion of entry %d", index), err)
		}
		if len(data) != 0 {
			check(path, fmt.Errorf("%d bytes after its entries", len(data)))
		}
	}

	for _, arg := range os.Args[4:] {
		old, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "old size: %v\n", err)
			os.Exit(2)
		}
		oldHash, err := tlog.TreeHash(old, reader)
		if err == nil {
			fmt.Printf("root %d %s\n", old, base64.StdEncoding.EncodeToString(oldHash[:]))
			var proof tlog.TreeProof
			proof, err = tlog.ProveTree(size, old, reader)
			if err == nil {
				err = tlog.CheckTree(proof, size, root, old, oldHash)
			}
		}
		check(fmt.Sprintf("consistency of %d with %d", old, size), err)
	}

	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
