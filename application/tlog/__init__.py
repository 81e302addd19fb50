"""The verifiable log: a Merkle tree (RFC 9162) over every recorded event, in log order.

- :mod:`.entry`: the bytes of a log entry, the tree's leaf;
- :mod:`.merkle`: the tree's hashes, proofs and their verification, from complete subtrees'
  hashes, and the tiles they are stored in (pure: the standard library only);
- :mod:`.sequencer`: follows the notification log and appends leaves to the stored tiles,
  crash-safe.

See docs/verifiable-log.md.
"""
