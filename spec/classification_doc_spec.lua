-- docs/classification.md holds the classification table exactly as tools/classify_table.lua
-- makes it from cloud.classify's rows: a row changed in the code without
-- `tools/classify_table.lua --write` fails here. And no other page copies the table: they link
-- to docs/classification.md (the reference's own error table, docs/reference/, is its source).
local classify = require "cloud.classify"
local gen = assert(loadfile("tools/classify_table.lua"))()

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local text = f:read("*a")
  f:close()
  return text
end

describe("docs/classification.md", function()
  it("holds exactly the table generated from classify.rows, between its markers", function()
    local part, why = gen.between(read(gen.PAGE))
    assert(part, why)
    assert.are.equal(gen.table(), part,
      "docs/classification.md is out of date: run tools/classify_table.lua --write")
  end)

  it("has a row for every row of classify.rows", function()
    local tbl = gen.table()
    for _, row in ipairs(classify.rows) do
      assert.truthy(tbl:find("\n| `" .. row.code .. "` | ", 1, true), row.code)
    end
  end)

  it("refuses a class it cannot describe, rather than write the row without it", function()
    local rows = classify.rows
    rows[#rows + 1] = { code = "Test.0001", http = "400", class = "invented", scope = "call", why = "test" }
    local ok, err = pcall(gen.table)
    rows[#rows] = nil
    assert.is_false(ok)
    assert.truthy(tostring(err):find("class 'invented'", 1, true))
  end)

  it("replaces only what stands between the markers", function()
    local text = "before\n" .. gen.BEGIN .. "\nold\n" .. gen.END .. "\nafter\n"
    assert.are.equal("before\n" .. gen.BEGIN .. "\nnew\n" .. gen.END .. "\nafter\n", gen.replace(text, "new\n"))
    assert.is_nil((gen.replace("no markers\n", "new\n")))
  end)
end)

describe("the other pages", function()
  it("link to docs/classification.md instead of copying its table", function()
    local codes = {}
    for _, row in ipairs(classify.rows) do codes[row.code] = true end
    local pages = { "README.md" }
    local p = assert(io.popen("ls docs/*.md"))
    for path in p:lines() do
      if path ~= gen.PAGE then pages[#pages + 1] = path end
    end
    p:close()
    assert.is_true(#pages > 5, "found only " .. #pages .. " pages")
    local copies = {}
    for _, path in ipairs(pages) do
      local n = 0
      for line in (read(path) .. "\n"):gmatch("([^\n]*)\n") do
        n = n + 1
        local code = line:match("^|%s*%**`([%a]+%.%d%d%d%d)`")
        if code and codes[code] then copies[#copies + 1] = ("%s:%d: %s"):format(path, n, code) end
      end
    end
    assert.are.same({}, copies)
  end)
end)
