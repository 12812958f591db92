-- Writes a vector's exact body, expected canonical request and string to sign to
-- OUTDIR/NAME.{body,cr,sts} for floor.c, and prints "SK SIGNATURE" (JSON is parsed here,
-- not in C). usage (from the repo root): lua5.4 bench/sign/dump_vector.lua NAME OUTDIR
package.path = "spec/?.lua;tools/?.lua;" .. package.path
local cjson = require "cjson"
local vectors = require "support.vectors"
local name, outdir = arg[1], arg[2]

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

for _, v in ipairs(vectors.load()) do
  if v.name == name then
    write(outdir .. "/" .. name .. ".body", v.body ~= cjson.null and v.body or "")
    write(outdir .. "/" .. name .. ".cr", v.expected.canonical_request)
    write(outdir .. "/" .. name .. ".sts", v.expected.string_to_sign)
    print(v.sk, (v.expected.authorization:match("Signature=(%x+)$")))
    return
  end
end
error("no vector named " .. tostring(name))
