--- `--output tsv`: one line per server for cut and awk, after a header line. Columns: id,
-- name, status, outcome, code, detail. `status` is the server's as last seen (listed or
-- looked up; empty when never seen), `outcome` the result's word (stopped, started, failed,
-- skipped, or would-stop / would-start in a dry run), `code` a failure's code, `detail` its
-- message or why it was skipped. A value's backslash, tab, newline, carriage return and
-- other control bytes are written \\, \t, \n, \r and \xHH, so every line has six fields.
-- @module cloud.cli.tsv
local words = require "cloud.cli.words"

local M = {}

M.COLUMNS = { "id", "name", "status", "outcome", "code", "detail" }

local NAMED = { ["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r" }

--- One value as a field: nil as empty, control bytes escaped.
function M.field(v)
  if v == nil or type(v) == "userdata" then return "" end -- absent, or JSON null
  return (tostring(v):gsub("[%c\\]", function(c) return NAMED[c] or ("\\x%02X"):format(c:byte()) end))
end

--- Writes the result `res` (a run's, a fleet's or a wait on jobs) as TSV.
-- @param out file handle (stdout)
-- @tparam table res the library's result
-- @tparam[opt] table wd the command's words (cloud.cli.words; cloud-stop's when nil)
function M.write(out, res, wd)
  wd = wd or words.stop
  local seen = {} -- id -> { name, status } from the selection
  for _, s in ipairs(res.selected or {}) do seen[s.id] = s end
  local function row(id, name, status, outcome, code, detail)
    local s = seen[id] or {}
    out:write(M.field(id), "\t", M.field(name or s.name), "\t", M.field(status or s.status), "\t",
      M.field(outcome), "\t", M.field(code), "\t", M.field(detail), "\n")
  end
  out:write(table.concat(M.COLUMNS, "\t"), "\n")
  if res.dry_run then
    for _, s in ipairs(res.selected or {}) do row(s.id, nil, nil, "would-" .. wd.verb) end
  else
    for _, id in ipairs(res[wd.done] or {}) do row(id, nil, nil, wd.done) end
    for _, f in ipairs(res.failed or {}) do row(f.id, nil, nil, "failed", f.code, f.message) end
  end
  for _, s in ipairs(res.skipped or {}) do row(s.id, s.name, s.status, "skipped", nil, s.reason) end
end

return M
