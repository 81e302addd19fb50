module capledger/tests/interop/tlogcheck

go 1.19

require github.com/transparency-dev/merkle v0.0.2
