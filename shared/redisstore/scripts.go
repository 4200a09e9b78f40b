package redisstore

// The scripts of requests and settings, in lua/. Each is one atomic step
// over the keys of one tenant; times are Unix milliseconds from the caller's
// clock, and lifetimes are enforced by the TTLs of the pending and grant
// keys, i.e. by Redis itself. A script makes every check before its first
// write, so a refusal changes nothing. Refusals are {"err", code, args...};
// replies.go turns each code into the domain's error. Each file's opening
// comment says what its script does, takes and answers.

var (
	// createScript files a request, and applies the automatic decision
	// its tenant's settings took (lua/create.lua).
	createScript = script("create.lua")
	// actScript applies an action a caller takes (lua/act.lua).
	actScript = script("act.lua")
	// putSettingsScript stores a tenant's settings (lua/put_settings.lua).
	putSettingsScript = script("put_settings.lua")
	// settleScript records what time did to one request
	// (lua/settle.lua).
	settleScript = script("settle.lua")
	// listScript reads one page of requests (lua/list.lua).
	listScript = script("list.lua")
	// pruneMarkScript starts pruning an idle tenant (lua/prune_mark.lua).
	pruneMarkScript = script("prune_mark.lua")
)
