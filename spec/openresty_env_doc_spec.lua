-- docs/openresty.md's nginx.conf keeps, with `env` lines, every variable the module reads:
-- nginx clears its workers' environment, so one left out is silently not seen there (an
-- IAM or metadata endpoint override, the metadata fallback switch, the credentials file).
-- The names are taken from the library's own sources, so a new one must reach the page.
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Every "HUAWEICLOUD_SDK_..." or "CLOUD_..." string constant of lua/ outside the CLI
-- (whose variables a command line reads, not nginx).
local function variables_read()
  local p = assert(io.popen("find lua -name '*.lua' -not -path 'lua/cloud/cli/*' | sort"))
  local names, seen = {}, {}
  for path in p:lines() do
    for name in read(path):gmatch('"((%u[%u%d]*)_[%u%d_]+)"') do
      if (name:match("^HUAWEICLOUD_SDK_") or name:match("^CLOUD_")) and not seen[name] then
        seen[name] = true
        names[#names + 1] = name
      end
    end
  end
  p:close()
  table.sort(names)
  return names
end

describe("docs/openresty.md's env lines", function()
  it("name every variable the module reads", function()
    local page = read("docs/openresty.md")
    local conf = assert(page:match("```nginx\n(.-)```"), "no nginx block")
    local kept = {}
    for name in conf:gmatch("\nenv ([%u%d_]+);") do kept[name] = true end
    local names = variables_read()
    -- The scan itself finds what it must (a broken pattern would pass every page).
    for _, known in ipairs({ "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_IAM_ENDPOINT", "CLOUD_METADATA_ENDPOINT" }) do
      local found = false
      for _, n in ipairs(names) do found = found or n == known end
      assert.is_true(found, known .. " not found in lua/cloud")
    end
    local missing = {}
    for _, n in ipairs(names) do
      if not kept[n] then missing[#missing + 1] = n end
    end
    assert.same({}, missing)
    -- The per-region endpoint overrides are names made at run time: the page shows one.
    assert.truthy(conf:find("\nenv HUAWEICLOUD_SDK_REGION_ECS_", 1, true))
  end)
end)
