package redisstore

// What the external tests read of the package's internals.
var (
	DecodeEntry = decodeEntry
)
