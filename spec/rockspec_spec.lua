-- The rock's metadata, read as LuaRocks reads it (a rockspec is Lua assignments): the
-- release rockspec carries cloud.VERSION, both declare lua-cjson and the busted test
-- section, build the same, and install every module, both commands and nginx/cloud.conf;
-- CMakeLists.txt installs both commands too.
local cloud = require "cloud"
local core = require "cloud.core"

local function load_rockspec(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local env = {}
  local chunk
  if setfenv then -- Lua 5.1, LuaJIT
    chunk = assert(loadstring(text, "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(text, "@" .. path, "t", env))
  end
  chunk()
  return env
end

local function list(cmd)
  local out, p = {}, io.popen(cmd)
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local SCM = "rockspec/cloud-scm-1.rockspec"
local RELEASE = "rockspec/cloud-" .. cloud.VERSION .. "-1.rockspec"

describe("the rockspecs", function()
  it("include a release named for cloud.VERSION, which the C core reports too", function()
    assert.truthy(cloud.VERSION:match("^%d+%.%d+%.%d+$"), cloud.VERSION)
    assert.are.equal(cloud.VERSION, core.version)
    assert.are.same({ SCM, RELEASE }, list("ls rockspec/*.rockspec | sort -r"))
    local release = load_rockspec(RELEASE)
    assert.are.equal("cloud", release.package)
    assert.are.equal(cloud.VERSION .. "-1", release.version)
    assert.are.equal("v" .. cloud.VERSION, release.source.tag)
    assert.are.equal("scm-1", load_rockspec(SCM).version)
  end)

  for _, path in ipairs({ SCM, RELEASE }) do
    describe(path, function()
      local r = load_rockspec(path)

      it("depends on Lua and lua-cjson", function()
        local names = {}
        for _, d in ipairs(r.dependencies) do names[#names + 1] = d:match("^%S+") end
        assert.are.same({ "lua", "lua-cjson" }, names)
      end)

      it("has a busted test section", function()
        assert.are.equal("3.0", r.rockspec_format) -- test sections need it
        assert.are.equal("busted", r.test.type)
        local tests = {}
        for _, d in ipairs(r.test_dependencies) do tests[d] = true end
        assert.is_true(tests.busted)
      end)

      it("installs every Lua module, the command and nginx/cloud.conf", function()
        local modules = {}
        for _, src in pairs(r.build.modules) do
          if type(src) == "string" then modules[#modules + 1] = src end
        end
        -- cloud.core's Lua loader shares its module name with the C core: installed apart.
        for _, src in pairs(r.build.install.lua or {}) do modules[#modules + 1] = src end
        table.sort(modules)
        assert.are.same(list("find lua -name '*.lua' | sort"), modules)
        assert.are.same({ ["cloud-stop"] = "bin/cloud-stop", ["cloud-stop.lua"] = "bin/cloud-stop.lua",
                          ["cloud-start"] = "bin/cloud-start", ["cloud-start.lua"] = "bin/cloud-start.lua",
                          ["cloud-schedule"] = "bin/cloud-schedule",
                          ["cloud-schedule.lua"] = "bin/cloud-schedule.lua" },
          r.build.install.bin)
        assert.is_false(r.deploy.wrap_bin_scripts) -- bin/cloud-stop picks the Lua itself
        assert.are.same({ ["cloud.conf"] = "nginx/cloud.conf" }, r.build.install.conf)
      end)

      it("builds the C core from every C file", function()
        local sources = {}
        for _, s in ipairs(r.build.modules["cloud.core"].sources) do sources[#sources + 1] = s end
        table.sort(sources)
        assert.are.same(list("ls csrc/*.c | sort"), sources)
        local f = assert(io.open("CMakeLists.txt"))
        local cmake = {}
        for s in f:read("*a"):match("set%(CORE_SOURCES(.-)%)"):gmatch("%S+") do cmake[#cmake + 1] = s end
        f:close()
        table.sort(cmake)
        assert.are.same(sources, cmake, "CMakeLists.txt builds other sources")
      end)
    end)
  end

  it("CMakeLists.txt installs the three commands, each a launcher and its script", function()
    local f = assert(io.open("CMakeLists.txt"))
    local cmake = f:read("*a")
    f:close()
    local programs = {}
    for s in cmake:match("install%(PROGRAMS(.-)DESTINATION bin%)"):gmatch("%S+") do programs[#programs + 1] = s end
    table.sort(programs)
    assert.are.same({ "bin/cloud-schedule", "bin/cloud-schedule.lua", "bin/cloud-start", "bin/cloud-start.lua",
                      "bin/cloud-stop", "bin/cloud-stop.lua" }, programs)
  end)

  it("build the same, from the same description", function()
    local scm, release = load_rockspec(SCM), load_rockspec(RELEASE)
    for _, key in ipairs({ "build", "dependencies", "test", "test_dependencies", "deploy", "description",
                           "external_dependencies", "rockspec_format" }) do
      assert.are.same(scm[key], release[key], key)
    end
  end)
end)
