-- Secret hygiene on every way keys can be half given: each subset of {ak, sk,
-- security_token} in each of the three sources (options, environment, credentials file),
-- and every combination of them, generated rather than listed. For each: the outcome is
-- the one the lookup order says (a half source is never used, nor mixed with another), and
-- no secret value (the SK or token of any source) is in the error (message, tostring,
-- fields), a log line, the client's tostring, or the CLI's stdout and stderr.
local cloud = require "cloud"
local env = require "support.cloudenv"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"

local FIELDS = { "ak", "sk", "security_token" }
local SOURCES = { "options", "env", "file" }
local ENV_NAME = { ak = "HUAWEICLOUD_SDK_AK", sk = "HUAWEICLOUD_SDK_SK",
                   security_token = "HUAWEICLOUD_SDK_SECURITY_TOKEN" }

-- Distinctive values, one per source and field; the SK and the token are the secrets.
local function value(source, field)
  return ("%s%sSPOT%s7q9z"):format(field == "ak" and "AK" or field == "sk" and "SECRETSK" or "SECRETTOKEN",
    source:upper(), source == "options" and "O" or source == "env" and "E" or "F")
end
local SECRETS = {}
for _, src in ipairs(SOURCES) do
  SECRETS[#SECRETS + 1] = value(src, "sk")
  SECRETS[#SECRETS + 1] = value(src, "security_token")
end

-- The 8 subsets of FIELDS, as sets.
local SUBSETS = {}
for mask = 0, 7 do
  local set = {}
  for i, f in ipairs(FIELDS) do
    if math.floor(mask / 2 ^ (i - 1)) % 2 == 1 then set[f] = true end
  end
  SUBSETS[#SUBSETS + 1] = set
end

local function describe_set(set)
  local out = {}
  for _, f in ipairs(FIELDS) do if set[f] then out[#out + 1] = f end end
  return "{" .. table.concat(out, ",") .. "}"
end

local function complete(set) return set.ak and set.sk end
local function empty(set) return not (set.ak or set.sk or set.security_token) end

-- Fails when `text` holds any secret value, or a recognisable part of one.
local function clean(where, text)
  text = tostring(text)
  for _, s in ipairs(SECRETS) do
    assert(not text:find(s, 1, true), where .. " shows a secret: " .. text)
    assert(not text:find(s:sub(1, 14), 1, true), where .. " shows part of a secret: " .. text)
  end
end

-- Every string in a value (keys and values of tables, walked).
local function clean_value(where, v, seen)
  seen = seen or {}
  if type(v) == "string" then return clean(where, v) end
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  for k, x in pairs(v) do
    clean_value(where, k, seen)
    clean_value(where .. "." .. tostring(k), x, seen)
  end
end

local function write_file(path, set)
  local f = assert(io.open(path, "wb"))
  f:write("[basic]\n")
  for _, field in ipairs(FIELDS) do
    if set[field] then f:write(field, " = ", value("file", field), "\n") end
  end
  f:close()
end

-- What the lookup order says of a combination: the source the keys come from, "raises"
-- (a half set passed as options), or nil (no complete source: cloud.no_credentials).
local function expected(sets)
  if not empty(sets.options) then return complete(sets.options) and "options" or "raises" end
  if complete(sets.env) then return "env" end
  if complete(sets.file) then return "file" end
end

describe("secrets in every half-given source", function()
  local dir, file

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. cli.quote(dir)))
    file = dir .. "/credentials"
  end)
  teardown(function()
    os.remove(file)
    os.remove(dir)
  end)

  it("the library: 512 combinations of options, environment and file", function()
    local count, outcomes = 0, {}
    for _, o in ipairs(SUBSETS) do
      for _, e in ipairs(SUBSETS) do
        for _, fset in ipairs(SUBSETS) do
          local sets = { options = o, env = e, file = fset }
          local name = ("options %s, env %s, file %s"):format(describe_set(o), describe_set(e), describe_set(fset))
          write_file(file, fset)
          local vars = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file }
          for field in pairs(e) do vars[ENV_NAME[field]] = value("env", field) end
          local lines = {}
          local opts = { region = "cn-north-4", project_id = ("0"):rep(32), metadata_fallback = false,
                         endpoints = { ecs = "http://127.0.0.1:1" },
                         logger = function(line, level) lines[#lines + 1] = tostring(level) .. " " .. line end }
          for field in pairs(o) do opts[field] = value("options", field) end
          local ok, c, err = env.with_env(vars, function() return pcall(cloud.new, opts) end)
          local want = expected(sets)
          if not ok then
            -- What was raised: an argument error naming the field left out or alone.
            assert(want == "raises", name .. ": raised " .. tostring(c))
            assert.are.equal("argument", c.kind, name)
            assert(c.field == "ak" or c.field == "sk" or c.field == "security_token", name)
            clean(name .. " raised message", c.message)
            clean(name .. " raised tostring", tostring(c))
            clean_value(name .. " raised", c)
          elseif c then
            assert(want and want ~= "raises", name .. ": a client, expected " .. tostring(want))
            -- The keys it signs with are the expected source's AK, whole.
            local shown = tostring(c)
            clean(name .. " tostring(client)", shown)
            assert.truthy(shown:find("ak=" .. value(want, "ak"):sub(1, 4), 1, true), name)
            c:close()
          else
            assert(want == nil, name .. ": no client, expected " .. tostring(want) .. ": " .. tostring(err))
            assert.are.equal("cloud.no_credentials", err.code, name)
            clean(name .. " err.message", err.message)
            clean(name .. " tostring(err)", tostring(err))
            clean_value(name .. " err", err)
            -- Each half source is named as the reason it was not used.
            if not empty(e) then assert.truthy(err.message:find("environment: HUAWEICLOUD_SDK_", 1, true), name) end
            if not empty(fset) then assert.truthy(err.message:find("[basic] has ", 1, true), name) end
          end
          -- A half environment set passed over for the file's keys is said in a warning.
          if want == "file" and not empty(e) then
            assert.truthy(table.concat(lines, "\n"):find("warning credentials: HUAWEICLOUD_SDK_", 1, true), name)
          end
          for _, l in ipairs(lines) do clean(name .. " log", l) end
          count = count + 1
          local k = tostring(want)
          outcomes[k] = (outcomes[k] or 0) + 1
        end
      end
    end
    assert.are.equal(512, count)
    -- Options: 1 empty subset of 8 falls through, 1 complete one ({ak,sk}) plus {ak,sk,token} serve, 5 raise.
    assert.are.same({ options = 2 * 64, raises = 5 * 64, env = 2 * 8, file = 6 * 2, ["nil"] = 6 * 6 }, outcomes)
  end)

  describe("the CLI", function()
    local fc

    setup(function()
      fc = assert(launcher.start{ config = { fleet = { ecs = { { count = 1 } } } } })
    end)
    teardown(function() if fc then fc:stop() end end)

    it("64 combinations of environment and file: nothing secret on stdout or stderr", function()
      local exits = {}
      for _, e in ipairs(SUBSETS) do
        for _, fset in ipairs(SUBSETS) do
          local name = ("env %s, file %s"):format(describe_set(e), describe_set(fset))
          write_file(file, fset)
          local vars = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file, CLOUD_METADATA_FALLBACK = "off",
                         HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id }
          for field in pairs(e) do vars[ENV_NAME[field]] = value("env", field) end
          local r = cli.run({ "ecs", "--endpoint", fc.url, "--retries", "0", "--verbose", "--debug",
                              "--json", "--yes", "--poll-interval", "0.05", "0123" }, vars)
          clean(name .. " stdout", r.stdout)
          clean(name .. " stderr", r.stderr)
          local want = expected{ options = {}, env = e, file = fset }
          if want then
            -- Keys the emulator does not know: the cloud refuses them, and says so.
            assert.are.equal(3, r.code, name .. "\n" .. r.stderr)
            assert.truthy((r.stdout .. r.stderr):find("APIGW.0301", 1, true), name .. "\n" .. r.stderr)
          else
            assert.are.equal(3, r.code, name .. "\n" .. r.stderr)
            assert.truthy(r.stderr:find("cloud.no_credentials", 1, true) or r.stdout:find("cloud.no_credentials", 1,
              true), name .. "\n" .. r.stderr)
          end
          exits[#exits + 1] = r.code
        end
      end
      assert.are.equal(64, #exits)
    end)
  end)
end)
