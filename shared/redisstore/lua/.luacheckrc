-- luacheck's view of the scripts (luacheck .): what Redis gives a script,
-- the names rendering resolves (lua.go), and what the prelude defines
-- (lines rendered in prelude.go, functions in prelude.lua) for the scripts.
std = "lua51"
max_line_length = 160
read_globals = {
  "redis", "cjson", "KEYS", "ARGV",
  "A", "F", "FR", "R", "S",
  "transition", "NOTE_CREATED", "NOTE_APPROVAL", "NOTE_REMINDER", "NOTE_ESCALATED", "NOTE_ENDING", "ENDING_NOTICE_MS",
  "OP_CREATE", "OP_SETTINGS", "ACTOR_ENGINEER", "ACTOR_SYSTEM", "SYSTEM_ACTOR", "EVENT_FIELD", "OUTBOX_FIELD",
  "OP_USE_GRANT", "OP_REFUSE_ACCESS", "OP_ISSUE_CREDENTIAL", "CODE_NO_GRANT", "CODE_PENDING", "CODE_ENDED", "READ_LEVEL",
}
files["prelude.lua"] = {
  -- The scripts use them; luacheck sees one file at a time.
  ignore = {"211"},
}
files["*.lua"] = {
  read_globals = {"key", "effective", "current", "event", "fail", "ms", "note", "dropTimers", "overCap", "apply", "count",
    "readRecord"},
}
