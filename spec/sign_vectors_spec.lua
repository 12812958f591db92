-- Every vector from the official Node.js SDK, and the two published in SIGNING.md.
local core = require "cloud.core"
local vectors = require "support.vectors"

describe("core.sign against the official SDK's vectors", function()
  local all = vectors.load()

  it("has the whole vector file", function()
    assert.is_true(#all >= 24)
  end)

  for _, v in ipairs(all) do
    it(v.name, function()
      local s = core.sign(vectors.options(v))
      assert.are.equal(v.expected.canonical_request, s.canonical_request)
      assert.are.equal(v.expected.string_to_sign, s.string_to_sign)
      assert.are.equal(v.expected.signed_headers, s.signed_headers)
      assert.are.equal(v.expected.authorization, s.authorization)
      assert.are.equal(v.expected.authorization, s.headers.Authorization)
      assert.are.equal(v.sdk_date, s.headers["X-Sdk-Date"])
      -- The wire query is the canonical one, so the gateway decodes what was signed.
      assert.are.equal(v.expected.canonical_request:match("^[^\n]*\n[^\n]*\n([^\n]*)\n"), s.query_string)
    end)
  end
end)

describe("core.sign against the published vectors", function()
  it("signs the official guide's GET request", function()
    local s = core.sign{
      method = "GET",
      host = "service.region.example.com",
      path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
      query = { limit = 2, marker = "13551d6b-755d-4757-b956-536f674975c0" },
      headers = { ["content-type"] = "application/json" },
      ak = "AK",
      sk = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
      date = "20191115T033655Z",
    }
    assert.are.equal("content-type;host;x-sdk-date", s.signed_headers)
    assert.are.equal("b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a",
      s.string_to_sign:match("\n(%x+)$"))
    assert.are.equal("7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe", s.signature)
  end)

  it("canonicalizes the Go SDK's query", function()
    local s = core.sign{
      method = "GET", host = "h", path = "/", ak = "AK", sk = "SK", date = "20191115T033655Z",
      query = { limit = 1, enable = true, test = "一 (&=?!#%.*)", path = "/tmp/123", multi = { 1, 2, 3 } },
    }
    assert.are.equal(
      "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29",
      s.query_string)
  end)
end)
