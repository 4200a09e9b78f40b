package redisstore

// What the external tests read of the package's internals.
var (
	DecodeEntry = decodeEntry
	// RenderPlanted renders a script body taking the arguments prefix and
	// id, after the prelude.
	RenderPlanted = func(body string) string { return renderScript[twoArgs]("planted.lua", body, nil) }
)
